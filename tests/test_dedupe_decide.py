"""The pair decision, on small hand-written texts modelled on real releases."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.dedupe import DedupeItem, decide, features
from aggregator.dedupe.decision import _common
from aggregator.models import OrgKind

T0 = datetime(2024, 6, 18, 8, tzinfo=UTC)

STATEMENT = (
    "We, the undersigned civil society organisations, call on the governments of the EU Member "
    "States to reject the latest compromise text on the Regulation to prevent and combat child "
    "sexual abuse, which the Belgian Council Presidency has put forward for a vote. Despite being "
    "presented as a compromise, the so-called upload moderation proposal still requires the mass "
    "scanning of private communications, including messages protected by end-to-end encryption. "
    "Client-side scanning creates vulnerabilities that can be exploited by criminals and hostile "
    "states. Children deserve real protection: prevention, education, well-funded hotlines and "
    "support for survivors."
)
TITLE = "Joint statement: EU Member States must reject the chat control proposal"

ALIGN = (
    "On 23 June 2023, the Council adopted Council Decision (CFSP) 2023/1215. The Council Decision "
    "amends Council Decision 2014/512/CFSP concerning restrictive measures in view of Russia's "
    "actions destabilising the situation in Ukraine. The Candidate Countries North Macedonia, "
    "Montenegro, Albania, Ukraine, the Republic of Moldova and Bosnia and Herzegovina, and the "
    "EFTA countries Iceland, Liechtenstein and Norway, members of the European Economic Area, "
    "{extra}align themselves with this Decision. They will ensure that their national policies "
    "conform to this Council Decision. The European Union takes note of this commitment and "
    "welcomes it."
)
ALIGN_TITLE = (
    "Declaration by the High Representative on behalf of the EU on the alignment of certain "
    "countries concerning restrictive measures"
)


def item(
    key: str,
    text: str,
    *,
    title: str = TITLE,
    url: str | None = None,
    published: datetime = T0,
    org: OrgKind = OrgKind.NGO,
) -> DedupeItem:
    return DedupeItem(
        key=key,
        source_id=f"source-{key}",
        org=org,
        title=title,
        text=text,
        canonical_url=url or f"https://{key}.example.org/statement",
        published=published,
    )


def pair(a: DedupeItem, b: DedupeItem) -> tuple[bool, str]:
    fa, fb = features(a), features(b)
    ab, ba = decide(fa, fb), decide(fb, fa)
    assert (ab.matched, ab.reason) == (ba.matched, ba.reason), "decide must be symmetric"
    return ab.matched, ab.reason


def test_teaser_is_contained_in_its_full_text() -> None:
    teaser = " ".join(STATEMENT.split()[:40]) + "…"
    assert pair(item("rss", teaser), item("page", STATEMENT)) == (True, "containment")


def test_added_footer_and_intro_do_not_break_a_match() -> None:
    footer = STATEMENT + " Support our work: epicenter.works is funded by thousands of people."
    intro = "Today more than 60 organisations published this statement. " + STATEMENT
    assert pair(item("edri", STATEMENT), item("epicenter", footer)) == (True, "jaccard")
    assert pair(item("edri", STATEMENT), item("breyer", intro, title="Reject chat control")) == (
        True,
        "jaccard",
    )


@pytest.mark.parametrize(
    ("left", "right"),
    [
        # Each organisation's own intro sentence, naming itself, before the shared body.
        ("NGO A signed this statement today. {}", "The Council received this letter. {}"),
        ("NGO A signed this statement today. {}", "NGO B and its members support this call. {}"),
        # Each one's own footer, and an intro against a footer.
        ("{} For press enquiries, contact NGO A.", "{} Signed on behalf of the Brave Movement."),
        ("ECPAT International co-signed this statement. {}", "{} Contact: INHOPE."),
    ],
)
def test_each_organisations_own_intro_or_footer_around_one_statement_matches(
    left: str, right: str
) -> None:
    a, b = item("a", left.format(STATEMENT)), item("b", right.format(STATEMENT))
    assert pair(a, b) == (True, "jaccard")


def test_a_first_sentence_that_is_the_template_slot_stays_apart() -> None:
    # Whole sentences on both sides, but one sentence with its name filled differently.
    a = item("a", f"Freed: Ales Bialiatski. {STATEMENT}")
    b = item("b", f"Freed: Maria Kalesnikava. {STATEMENT}")
    assert pair(a, b) == (False, "template-difference")
    # A short trailing sentence with a reference number is a slot too, not a footer.
    c, d = item("c", f"{STATEMENT} Ref. 6123/26."), item("d", f"{STATEMENT} Ref. 6124/26.")
    assert pair(c, d) == (False, "template-difference")


def test_plain_words_reworded_with_a_name_are_one_statement_corrected() -> None:
    # "member states' representatives" became "the ambassadors (Coreper)" in one copy: a
    # correction of its wording. Reported apart as another statement of one template, the
    # Council's corrected release left the story the press and the Parliament told.
    corrected = STATEMENT.replace("the latest compromise text", "the Danish compromise text")
    assert pair(item("a", STATEMENT), item("b", corrected)) == (True, "jaccard")
    # A name for a name is a slot filled differently, as a name added to a list is.
    other = STATEMENT.replace("the Belgian Council Presidency", "the Danish Council Presidency")
    assert pair(item("a", STATEMENT), item("b", other)) == (False, "template-difference")


def test_own_intros_do_not_hide_a_slot_inside_the_body() -> None:
    a = item("a", "NGO A shares this declaration. " + ALIGN.format(extra="as well as Georgia, "))
    b = item("b", "The Council adopted it today. " + ALIGN.format(extra="as well as Armenia, "))
    assert pair(a, b) == (False, "template-difference")


def test_identical_body_under_another_title_matches_on_the_text_hash() -> None:
    other = item("ccc", STATEMENT, title="Chat control: civil society speaks out")
    assert pair(item("edri", STATEMENT), other) == (True, "text-hash")


STOCK = (
    "This press release is available in all official languages of the European Union. For "
    "further information, please contact the spokesperson's service. Journalists can follow "
    "the press conference live on EbS and find the audiovisual material in the media library."
)


@pytest.mark.parametrize("same_source", [False, True])
def test_a_stock_description_under_unrelated_titles_is_no_match(same_source: bool) -> None:
    # Every release of a source given one description: state aid and the budget were one
    # story, matched on the body's hash alone.
    aid = item("aid", STOCK, title="Commission approves Czech scheme to support rail freight")
    budget = item(
        "budget", STOCK, title="MEPs approve the EU budget for 2026", org=OrgKind.INSTITUTION
    )
    if same_source:
        budget = replace(budget, source_id=aid.source_id)
    assert pair(aid, budget) == (False, "shared-body")


def test_a_stock_description_under_one_title_is_one_item() -> None:
    title = "Commission approves Czech scheme to support rail freight"
    assert pair(item("a", STOCK, title=title), item("b", STOCK, title=title.upper())) == (
        True,
        "text-hash",
    )


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("as well as Georgia, ", ""),  # a country added to the list
        ("as well as Georgia, ", "as well as Armenia, "),  # a country swapped
    ],
)
def test_template_declarations_that_differ_in_a_country_stay_apart(left: str, right: str) -> None:
    a = item("a", ALIGN.format(extra=left), title=ALIGN_TITLE, org=OrgKind.INSTITUTION)
    b = item("b", ALIGN.format(extra=right), title=ALIGN_TITLE, org=OrgKind.INSTITUTION)
    assert pair(a, b) == (False, "template-difference")


def test_template_declarations_that_differ_in_a_decision_number_stay_apart() -> None:
    text = ALIGN.format(extra="")
    a = item("a", text, title=ALIGN_TITLE)
    b = item("b", text.replace("2023/1215", "2023/1216"), title=ALIGN_TITLE)
    assert pair(a, b) == (False, "template-difference")


def test_a_teaser_cut_right_after_the_differing_country_stays_apart() -> None:
    full_a = ALIGN.format(extra="as well as Georgia, ")
    full_b = ALIGN.format(extra="as well as Armenia, ")
    teaser = full_a[: full_a.index("Georgia") + len("Georgia")]
    assert pair(item("t", teaser, title=ALIGN_TITLE), item("b", full_b, title=ALIGN_TITLE)) == (
        False,
        "template-difference",
    )
    assert pair(item("t", teaser, title=ALIGN_TITLE), item("a", full_a, title=ALIGN_TITLE))[0]


def test_a_newsletter_quoting_a_teaser_is_not_that_article() -> None:
    teaser = " ".join(STATEMENT.split()[:45])
    newsletter = (
        f"Welcome to the EDRi-gram, our newsletter on digital rights in Europe. {TITLE}. "
        f"{teaser} Read the full statement. Also in this issue: the European Data Protection "
        "Supervisor published its opinion on the retention of communications data, our member "
        "Xnet launched a campaign on digital education in schools, Privacy Camp opens its call "
        "for sessions, and our policy team is hiring a policy advisor on surveillance and "
        "platform regulation; applications close at the end of July."
    )
    assert pair(item("rss", teaser), item("gram", newsletter, title="EDRi-gram, 19 June 2024")) == (
        False,
        "dissimilar",
    )


def test_translations_stay_apart() -> None:
    german = (
        "Wir, die unterzeichnenden zivilgesellschaftlichen Organisationen, fordern die Regierungen "
        "der EU-Mitgliedstaaten auf, den jüngsten Kompromisstext zur Verordnung zur Prävention und "
        "Bekämpfung des sexuellen Missbrauchs von Kindern abzulehnen, den die belgische "
        "Ratspräsidentschaft zur Abstimmung gestellt hat."
    )
    title = "Gemeinsame Erklärung: EU-Mitgliedstaaten müssen die Chatkontrolle ablehnen"
    assert pair(item("en", STATEMENT), item("de", german, title=title)) == (False, "dissimilar")


def test_the_window_bounds_matches() -> None:
    late = item("late", STATEMENT, published=T0 + timedelta(days=31))
    assert pair(item("early", STATEMENT), late) == (False, "outside-window")
    near = item("near", STATEMENT, published=T0 + timedelta(days=29))
    assert pair(item("early", STATEMENT), near) == (True, "text-hash")


def test_the_same_document_url_matches_but_a_bare_host_does_not() -> None:
    url = "https://edri.org/our-work/joint-statement/"
    a = item("a", "A short teaser.", url=url)
    b = item("b", "Completely different wording of the page.", url=url)
    assert pair(a, b) == (True, "url")
    home_a = item("a", "", title="Ministers meet on migration", url="https://example.org/")
    home_b = item("b", "", title="Court rules on data retention", url="https://example.org/")
    assert pair(home_a, home_b)[0] is False


def test_one_page_linked_over_http_and_https_with_and_without_www_matches() -> None:
    a = item("a", "A short teaser.", url="http://www.edri.org/our-work/joint-statement")
    b = item(
        "b",
        "Completely different wording of the page.",
        url="https://edri.org/our-work/joint-statement",
    )
    assert pair(a, b) == (True, "url")
    # Another host is another site, however alike its name.
    c = item(
        "c",
        "Completely different wording of the page.",
        url="https://www2.edri.org/our-work/joint-statement",
    )
    assert pair(a, c)[0] is False


def test_short_bodies_do_not_match_on_their_hash() -> None:
    a = item("a", "Read more on our website.", title="EU ministers meet on migration policy")
    b = item("b", "Read more on our website.", title="Court rules on data retention in Ireland")
    assert pair(a, b)[0] is False


def test_signatures_are_the_same_in_another_process() -> None:
    """Built-in hash() is salted per process; the signature must not depend on it."""
    here = features(item("x", STATEMENT))
    code = (
        "import sys; from datetime import UTC, datetime\n"
        "from aggregator.dedupe import DedupeItem, features\n"
        "from aggregator.models import OrgKind\n"
        "i = DedupeItem(key='x', source_id='s', org=OrgKind.NGO, title=sys.argv[1],"
        " text=sys.argv[2], canonical_url='u', published=datetime(2024, 1, 1, tzinfo=UTC))\n"
        "f = features(i); print(f.signature.hex(), f.text_hash, sorted(f.buckets))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, TITLE, STATEMENT],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345"},
    ).stdout.strip()
    assert out == f"{here.signature.hex()} {here.text_hash} {sorted(here.buckets)}"


def test_the_procedure_rule_comes_before_any_text_level() -> None:
    from aggregator.dedupe import cluster_items
    from aggregator.models import SourceKind

    day = datetime(2026, 11, 19, tzinfo=UTC)
    oeil = "https://oeil.example.eu/procedure-file?reference=2022/0155(COD)"

    def event(key: str, what: str, at: datetime) -> DedupeItem:
        return DedupeItem(
            key=key,
            source_id="proc-csar",
            org=OrgKind.PARLIAMENT,
            title=f"2022/0155(COD) — {what}",
            text="Preventing and combating child sexual abuse",
            canonical_url=oeil,
            published=at,
            source_kind=SourceKind.EP_PROCEDURE,
        )

    vote = event("vote", "Parliament adopted its decision in plenary", day)
    tabled = event("tabled", "report tabled for plenary", day - timedelta(days=14))
    release = item(
        "release",
        "MEPs adopted the regulation on child sexual abuse (2022/0155(COD)) by 478 votes.",
        title="Parliament adopts new rules",
        published=day + timedelta(hours=11),
        org=OrgKind.PARLIAMENT,
    )
    assert pair(vote, tabled) == (False, "procedure-events")  # same link, same text
    assert pair(vote, release) == (True, "procedure")
    assert pair(tabled, release) == (False, "dissimilar")  # another day: text levels only
    # The (reference, day) band alone makes them candidates: they share no words.
    clusters = cluster_items([vote, tabled, release])
    assert clusters["release"] == clusters["vote"] != clusters["tabled"]


@given(
    st.sets(st.integers(0, 2**64 - 1), max_size=40),
    st.sets(st.integers(0, 2**64 - 1), max_size=40),
    st.sets(st.integers(0, 2**64 - 1), max_size=10),
)
def test_shared_shingles_of_packed_hashes_are_the_set_intersection(
    a: set[int], b: set[int], both: set[int]
) -> None:
    def packed(hashes: set[int]) -> bytes:
        return b"".join(h.to_bytes(8, "little") for h in sorted(hashes))

    a, b = a | both, b | both
    assert _common(packed(a), packed(b)) == len(a & b)


NEWSLETTER = (
    "Chat Control Weekly is the newsletter of the Stop Scanning Me campaign. Every Monday we "
    "summarise what happened in the Council, the Parliament and the Commission on the "
    "Regulation to prevent and combat child sexual abuse. {news} Read the full analysis on "
    "our website and share this newsletter with your friends and colleagues. You receive "
    "this newsletter because you signed up on our website. Unsubscribe here. Our postal "
    "address is Rue de la Loi 1, Brussels."
)


def test_two_issues_of_one_sources_newsletter_stay_apart() -> None:
    issue_41 = NEWSLETTER.format(
        news="This week the Danish presidency circulated a new compromise text on detection "
        "orders, and member states asked for more time."
    )
    issue_42 = NEWSLETTER.format(
        news="This week Coreper postponed the vote again, after a leaked legal opinion "
        "questioned the scanning of encrypted messages."
    )
    weekly_41 = replace(item("weekly", issue_41), key="41", title="Chat Control Weekly #41")
    weekly_42 = replace(
        item("weekly", issue_42, url="https://weekly.example.org/42"),
        key="42",
        title="Chat Control Weekly #42",
    )
    assert weekly_41.source_id == weekly_42.source_id
    assert pair(weekly_41, weekly_42) == (False, "same-source")
    # The same two texts from two sources would be one statement re-published: the rule is
    # about one source's own items only.
    assert pair(weekly_41, replace(weekly_42, source_id="other"))[0] is True


def test_one_source_s_headlines_alone_stay_apart_however_alike() -> None:
    # A listing page with titles only: the Council's alignment declaration comes out every
    # few weeks under the same long headline, at a new address each time.
    title = ALIGN_TITLE + " in view of the situation in Iran"
    first = item("council", "", title=title, url="https://council.example.eu/2026/11/12/a-3/")
    second = replace(
        item("council", "", title=title, url="https://council.example.eu/2026/11/24/a-1/"),
        key="council-2",
    )
    assert first.source_id == second.source_id
    assert pair(first, second) == (False, "same-source")
    # At one address they are still two entries of the source (agenda items at page#top-12
    # and #top-15, a social wall's posts all linking to the profile): the store keeps one
    # item per entry, and the same item seen again at its address is the same stored item.
    same_page = replace(second, canonical_url=first.canonical_url)
    assert pair(first, same_page) == (False, "same-source")
    # Another source's item at that address is the same story.
    other = replace(same_page, source_id="ep", key="ep-1")
    assert pair(first, other) == (True, "url")


def test_one_source_re_issuing_a_statement_nearly_word_for_word_is_one_item() -> None:
    corrected = STATEMENT.replace("reject the latest", "reject the latest revised")
    first = item("edri", STATEMENT)
    again = replace(item("edri", corrected, url="https://edri.example.org/v2"), key="edri-2")
    assert pair(first, again) == (True, "jaccard")


# -- a corrected re-issue of one source's release -----------------------------------------------
SURVIVORS = (
    "Commissioner for Internal Affairs and Migration Magnus Brunner today met representatives "
    "of survivors' organisations and child helplines in Brussels to discuss the implementation "
    "of the EU strategy for a more effective fight against child sexual abuse. The discussion "
    "focused on prevention programmes for people who fear they might offend, on access to "
    "specialised support services for victims, and on the role of the future EU Centre in "
    "coordinating research and good practices across member states. The Commissioner "
    "underlined that survivors' experience must shape EU policy and announced that the "
    "Commission will set up a permanent survivors' advisory forum next year."
)
SURVIVORS_TITLE = "Commissioner Brunner meets survivors' organisations and child helplines"
HOME = "https://home-affairs.ec.europa.eu/news/"


def release(
    key: str,
    text: str = SURVIVORS,
    *,
    title: str = SURVIVORS_TITLE,
    url: str = HOME + "b_en",
    hours: float = 0,
) -> DedupeItem:
    return DedupeItem(
        key=key,
        source_id="ec-home",
        org=OrgKind.INSTITUTION,
        title=title,
        text=text,
        canonical_url=url,
        published=T0 + timedelta(hours=hours),
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("next year", "in March 2027"),  # a date
        ("in Brussels", "in Strasbourg"),  # a place
        ("Magnus Brunner", "Magnus Brunner and Ylva Johansson"),  # a name added
    ],
)
def test_a_release_re_issued_at_its_corrected_address_with_one_slot_changed_is_one_item(
    old: str, new: str
) -> None:
    corrected = release("b2", SURVIVORS.replace(old, new), url=HOME + "b-corrected_en", hours=3)
    assert pair(release("b1"), corrected) == (True, "jaccard")
    decision = decide(features(release("b1")), features(corrected))
    assert decision.detail.startswith("corrected: ")
    # The same two texts at addresses of their own are two statements of one template.
    sibling = replace(corrected, canonical_url=HOME + "b-strasbourg_en")
    assert pair(release("b1"), sibling) == (False, "template-difference")


@pytest.mark.parametrize(
    "title",
    [
        "Corrigendum: " + SURVIVORS_TITLE,
        SURVIVORS_TITLE + " (corrected)",
        "UPDATED: " + SURVIVORS_TITLE,
        "Berichtigung: " + SURVIVORS_TITLE,
        SURVIVORS_TITLE + " (rectificatif)",
        "Rettifica: " + SURVIVORS_TITLE,
        "Fe de erratas: " + SURVIVORS_TITLE,
        "Sprostowanie: " + SURVIVORS_TITLE,
    ],
)
def test_a_release_re_issued_under_a_correction_marked_title_is_one_item(title: str) -> None:
    # The Commission's corrigendum: a new number, so a new address, the title marked.
    corrected = release(
        "s2", SURVIVORS.replace("next year", "in March 2027"), title=title, url=HOME + "s_26_2894"
    )
    assert pair(release("s1", url=HOME + "s_26_2871"), corrected) == (True, "jaccard")


@pytest.mark.parametrize(
    "url",
    [
        HOME + "b-corrected_en",
        HOME + "b-rev1_en",
        HOME + "b-v2_en",
        HOME + "corrigendum/b_en",
        HOME + "b_en?rev=2",
        HOME + "b-berichtigung_en",
        HOME + "b_en",  # re-issued in place, under a new entry
    ],
)
def test_an_address_marked_as_the_others_correction_vouches_for_it(url: str) -> None:
    corrected = release("b2", SURVIVORS.replace("in Brussels", "in Strasbourg"), url=url, hours=4)
    assert pair(release("b1"), corrected)[0] is True


@pytest.mark.parametrize(
    "url",
    [
        HOME + "b-0_en",  # a CMS's second page of one title
        HOME + "b-2_en",
        HOME + "b-strasbourg_en",
        HOME + "b-corrigendum-list_en",  # a marker beside a word of its own
        "https://other.example.eu/news/b-corrected_en",  # another host
    ],
)
def test_an_address_that_is_not_the_others_marked_keeps_the_template_guard(url: str) -> None:
    sibling = release("b2", SURVIVORS.replace("in Brussels", "in Strasbourg"), url=url, hours=4)
    assert pair(release("b1"), sibling) == (False, "template-difference")


def test_a_correction_marker_does_not_fold_what_a_correction_is_not() -> None:
    corrected_url = HOME + "b-corrected_en"
    # Two slots changed: another statement, whatever the address says.
    two = SURVIVORS.replace("in Brussels", "in Strasbourg").replace("next year", "in 2028")
    assert pair(release("b1"), release("b2", two, url=corrected_url, hours=3)) == (
        False,
        "template-difference",
    )
    # A title that names another person: not the release's title, marked or not.
    other_title = "Corrigendum: Commissioner Johansson meets survivors' organisations"
    assert (
        pair(
            release("b1"),
            release(
                "b2",
                SURVIVORS.replace("in Brussels", "in Strasbourg"),
                title=other_title,
                url=corrected_url,
            ),
        )[0]
        is False
    )
    # Published weeks later: the marker no longer vouches for it.
    late = release(
        "b2", SURVIVORS.replace("in Brussels", "in Strasbourg"), url=corrected_url, hours=24 * 9
    )
    assert pair(release("b1"), late) == (False, "template-difference")
    # Another source's corrected copy: no marker of the release's own source.
    copy = replace(
        release("b2", SURVIVORS.replace("in Brussels", "in Strasbourg"), url=corrected_url),
        source_id="wire",
    )
    assert pair(release("b1"), copy) == (False, "template-difference")
