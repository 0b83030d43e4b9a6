"""Text a source repeats across its own items (a standard Background paragraph) does not make
two sources' releases one statement, and no item joins two releases of one source together;
a release its source re-issues corrected, at its address marked "-corrected", is one entry.

Through a real `aggregator refresh` of local feeds on SQLite and PostgreSQL, with press
releases written for this test on the model of the EU institutions' (a short lead, then the
long "Background" section every release on the file carries), and through `assign_clusters`
and `cluster_items` for the rule that a bridging item joins only the cluster it matches best.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import permutations
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine

from aggregator.cli import main
from aggregator.dedupe import DedupeItem, cluster_items, decide, features
from aggregator.dedupe.repeated import repeated_shingles, without_repeated
from aggregator.models import OrgKind
from aggregator.store.clusters import assign_clusters
from aggregator.store.engine import create_store_engine
from aggregator.store.schema import metadata
from tests.support_config import write_config
from tests.support_dedupe import add_sources, cluster_ids, store_items
from tests.support_schedule import Post, feed_source, rss

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

# The section the Parliament's and the Commission's releases on the CSA Regulation end with,
# word for word (~115 words: three times the leads).
BACKGROUND = (
    "Background. On 11 May 2022, the Commission proposed a regulation laying down rules to "
    "prevent and combat child sexual abuse online. Providers of hosting and interpersonal "
    "communication services would have to assess the risk that their services are misused to "
    "spread abuse material or to groom children, and take measures to reduce that risk; as a "
    "last resort, national authorities could ask a court to issue a detection order. An EU "
    "Centre on child sexual abuse would maintain databases of indicators, support providers "
    "and national authorities, and help victims have material removed. Until the permanent "
    "rules apply, an interim regulation allows providers to detect child sexual abuse on "
    "their services voluntarily; it has been extended until 3 April 2026."
)


@dataclass(frozen=True, slots=True)
class Release:
    key: str
    source: str
    title: str
    lead: str

    @property
    def text(self) -> str:
        return f"{self.lead} {BACKGROUND}"


PLENARY = Release(
    "ep-plenary",
    "ep-press",
    "Child sexual abuse online: plenary confirms mandate for talks with Council",
    "MEPs confirmed on Wednesday, by 520 votes to 70 with 34 abstentions, the Civil Liberties "
    "Committee's mandate to open negotiations with the Council. The rapporteur will lead "
    "Parliament's team in the first trilogue, scheduled for 4 December.",
)
HEARING = Release(
    "ep-hearing",
    "ep-press",
    "LIBE hearing: survivors and hotlines on the future EU Centre",
    "The Civil Liberties Committee heard survivors' organisations and hotline operators on "
    "Tuesday on how the future EU Centre should help victims have images of their abuse "
    "removed from the internet, and on who should govern its databases.",
)
REPORT = Release(
    "ec-report",
    "ec-press",
    "Commission reports on the application of the interim regulation",
    "The Commission today published its second report on the application of the interim "
    "regulation. Providers reported 1.3 million instances of known abuse material last year, "
    "while reports from messaging services fell by a third.",
)
# A news agency's copy of the plenary release: its own dateline, then the release as it is.
WIRE_INTRO = "BRUSSELS (EU Wire) -"
# A Commission page with hardly a word of its own before the section: too little own text to
# tell whose background it is, so it matches both Parliament releases.
NOTE = Release(
    "ec-note",
    "ec-press",
    "Fighting child sexual abuse online: background note",
    "Updated on 26 November.",
)

# One joint statement published by three organisations, each with its own intro, and each
# ending with its own "About us" paragraph, which it also puts under its other posts.
STATEMENT_TITLE = "Joint statement: finish the CSA Regulation with an independent EU Centre"
STATEMENT = (
    "We, the undersigned child-rights organisations, call on the Parliament and the Council "
    "to conclude the negotiations on the regulation to prevent and combat child sexual abuse "
    "before the interim rules expire. Every month without a permanent framework leaves "
    "survivors without a reliable way to have images of their abuse removed, and leaves "
    "hotlines and companies without a clear legal basis. An independent EU Centre, with "
    "safeguards for privacy and security, must be at the heart of the final text, together "
    "with prevention programmes and support for victims in every member state. We ask the "
    "negotiators to give the EU Centre its own budget and staff from the first day, to let "
    "hotlines keep their established role in assessing reports, and to make sure that "
    "survivors are consulted on how the Centre's databases are governed. We also ask the "
    "member states to fund education and prevention in schools, where most abuse is first "
    "disclosed, and to train the police and the judiciary to handle these cases with care."
)
NGOS = {
    "ngo-a": (
        "Child Rights Network, a coalition of 40 organisations, signed this statement today.",
        "About Child Rights Network: we bring together 40 organisations working for children's "
        "rights in 25 countries. Our secretariat is in Brussels. Press contact: "
        "press@crn.example, +32 2 000 00 00.",
    ),
    "ngo-b": (
        "Hotline Europe and its member hotlines support this call.",
        "About Hotline Europe: our 50 member hotlines assess reports of abuse material from the "
        "public and have it removed at the source. Media enquiries: media@hotline.example.",
    ),
    "ngo-c": (
        "Survivors Voice joins the organisations below in this appeal to the co-legislators.",
        "About Survivors Voice: founded by survivors in 2015, we campaign for the rights of "
        "victims of sexual abuse in childhood. Contact: info@survivors.example.",
    ),
}
OTHER_POSTS = {
    "ngo-a": (
        "Child Rights Network elects a new board",
        "Our general assembly elected a new board for the next three years, chaired for the "
        "first time by a member organisation from Central Europe.",
    ),
    "ngo-b": (
        "Hotline Europe annual statistics",
        "Our member hotlines processed more reports in the past year than ever before, most of "
        "them about material hosted in the European Union.",
    ),
    "ngo-c": (
        "Survivors Voice opens a helpline in Poland",
        "From Monday, survivors in Poland can call our new helpline, staffed by trained "
        "volunteers, every weekday evening.",
    ),
}
ORGS = {"ep-press": "parliament", "ec-press": "institution", "wire": "press"} | dict.fromkeys(
    NGOS, "ngo"
)


# -- through the command line -------------------------------------------------------------------
def _feeds(server: FixtureServer, now: datetime) -> list[dict[str, object]]:
    def post(key: str, title: str, text: str, hours: int, host: str) -> Post:
        link = f"https://{host}/news/{key}"
        return Post(
            guid=link, title=title, link=link, text=text, published=now - timedelta(hours=hours)
        )

    def release(r: Release, hours: int) -> Post:
        return post(r.key, r.title, r.text, hours, f"{r.source}.example.eu")

    server.add("/ep.xml", body=rss("EP press", [release(PLENARY, 6), release(HEARING, 5)]))
    server.add("/ec.xml", body=rss("EC press", [release(REPORT, 4)]))
    wire = post("ep-plenary", PLENARY.title, f"{WIRE_INTRO} {PLENARY.text}", 3, "wire.example")
    server.add("/wire.xml", body=rss("EU Wire", [wire]))
    sources: list[dict[str, object]] = [
        feed_source("ep-press", server.url("/ep.xml"), org="parliament"),
        feed_source("ec-press", server.url("/ec.xml"), org="institution"),
        feed_source("wire", server.url("/wire.xml"), org="press"),
    ]
    for hours, (ngo, (intro, about)) in enumerate(NGOS.items()):
        title, text = OTHER_POSTS[ngo]
        posts = [
            post("statement", STATEMENT_TITLE, f"{intro} {STATEMENT} {about}", hours, ngo),
            post("other", title, f"{text} {about}", 10 + hours, ngo),
        ]
        server.add(f"/{ngo}.xml", body=rss(ngo, posts))
        sources.append(feed_source(ngo, server.url(f"/{ngo}.xml")))
    return sources


@pytest.fixture()
def config(http_server: FixtureServer, env: Path) -> Path:
    return write_config(env / "config", _feeds(http_server, datetime.now(UTC)))


def _refresh(config: Path, capsys: pytest.CaptureFixture[str], *sources: str) -> None:
    argv = ["--config", str(config), "refresh"]
    for source in sources:
        argv += ["--source", source]
    assert main(argv) == 0, capsys.readouterr()
    capsys.readouterr()


def _clusters(config: Path, capsys: pytest.CaptureFixture[str]) -> set[frozenset[str]]:
    """Every cluster of two or more items, as the links of its members."""
    assert main(["--config", str(config), "clusters", "--json"]) == 0
    out, _ = capsys.readouterr()
    return {frozenset(m["url"] for m in c["members"]) for c in json.loads(out)}


EP_PLENARY = "https://ep-press.example.eu/news/ep-plenary"
WIRE_COPY = "https://wire.example/news/ep-plenary"
STATEMENTS = frozenset(f"https://{ngo}/news/statement" for ngo in NGOS)
EXPECTED = {frozenset({EP_PLENARY, WIRE_COPY}), STATEMENTS}


# One source per refresh: which items a refresh's write batches hold together depends on
# timing, and a source's repeated text is known from its own items in the window.
@pytest.mark.parametrize(
    "refreshes",
    [
        pytest.param(["ep-press", "ec-press", "wire", *NGOS], id="as-the-tester-did"),
        pytest.param(["ec-press", "ep-press", "wire", *NGOS], id="commission-first"),
        pytest.param(["wire", "ep-press", "ec-press", *NGOS], id="wire-copy-first"),
    ],
)
def test_a_shared_background_paragraph_does_not_fold_different_releases(
    config: Path, capsys: pytest.CaptureFixture[str], refreshes: list[str]
) -> None:
    for source in refreshes:
        _refresh(config, capsys, source)
    # The Commission's report and the hearing are entries of their own; the wire copy folds
    # with the plenary release it copies (and not with the report, whose background it
    # carries too); the joint statement folds although each organisation appends an "About
    # us" paragraph it repeats under its other posts.
    assert _clusters(config, capsys) == EXPECTED
    # Nothing new: a second refresh leaves every cluster as it was.
    _refresh(config, capsys)
    assert _clusters(config, capsys) == EXPECTED


# -- in the store and in memory: the bridging item ---------------------------------------------
T0 = datetime(2026, 11, 26, 9, tzinfo=UTC)
WINDOW = timedelta(days=30)


def _item(r: Release, *, hours: int) -> DedupeItem:
    at = T0 + timedelta(hours=hours)
    return DedupeItem(
        key=r.key,
        source_id=r.source,
        org=OrgKind(ORGS[r.source]),
        title=r.title,
        text=r.text,
        canonical_url=f"https://{r.source}.example.eu/news/{r.key}",
        published=at,
        first_seen=at,
    )


@pytest.fixture()
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_store_engine(database_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        add_sources(conn, ORGS)
    yield engine
    engine.dispose()


def test_an_item_matching_two_releases_of_one_source_joins_the_better_match_only(
    engine: Engine,
) -> None:
    plenary, hearing, note = _item(PLENARY, hours=0), _item(HEARING, hours=1), _item(NOTE, hours=2)
    fp, fh, fn = features(plenary), features(hearing), features(note)
    # The note has too little text of its own to tell whose background it carries: it
    # matches both releases, the hearing one (the shorter) better.
    assert decide(fn, fp).matched and decide(fn, fh).matched
    assert decide(fn, fh).jaccard > decide(fn, fp).jaccard
    assert not decide(fp, fh).matched  # two releases of one source
    with engine.begin() as conn:
        ids = store_items(conn, [plenary, hearing], now=T0)
        assign_clusters(conn, ids, now=T0, window=WINDOW)
    later = T0 + timedelta(hours=2)
    with engine.begin() as conn:
        (note_id,) = store_items(conn, [note], now=later)
        changes = assign_clusters(conn, [note_id], now=later, window=WINDOW)
        (merge,) = changes.merges
        assert len(merge.absorbed) == 1  # two clusters became one, not three
        found = cluster_ids(conn)
        assert found[NOTE.key] == found[HEARING.key] != found[PLENARY.key]
        # Idempotent: the next call leaves the plenary release where it is.
        assert assign_clusters(conn, [note_id], now=later, window=WINDOW).merges == ()
        assert cluster_ids(conn) == found


@pytest.mark.parametrize(
    "order",
    list(permutations([PLENARY, HEARING, NOTE])),
    ids=lambda order: "-".join(r.key for r in order),
)
def test_two_releases_of_one_source_never_share_a_cluster_whatever_the_order(
    order: tuple[Release, ...],
) -> None:
    items = [_item(r, hours=n) for n, r in enumerate(order)]
    labels = cluster_items(items)
    assert labels[PLENARY.key] != labels[HEARING.key]
    assert labels[NOTE.key] in (labels[PLENARY.key], labels[HEARING.key])


def test_a_match_that_rests_on_a_sources_repeated_text_is_no_match() -> None:
    plenary, hearing, report = (features(_item(r, hours=0)) for r in (PLENARY, HEARING, REPORT))
    # Judged alone, the report and the plenary release match: the background is most of them.
    alone = decide(report, plenary)
    assert alone.matched and alone.reason == "jaccard"
    # The Parliament repeats the background in its hearing release: set aside, the two
    # releases share next to nothing of their own.
    repeated = repeated_shingles(plenary, [hearing])
    both = [
        without_repeated(alone, a, b, repeated) for a, b in ((report, plenary), (plenary, report))
    ]
    assert {(d.matched, d.reason) for d in both} == {(False, "repeated-text")}
    # The wire copy shares the plenary release's own lead: it still matches.
    wire = features(
        DedupeItem(
            key="wire",
            source_id="wire",
            org=OrgKind.PRESS,
            title=PLENARY.title,
            text=f"{WIRE_INTRO} {PLENARY.text}",
            canonical_url="https://wire.example/news/ep-plenary",
            published=T0,
        )
    )
    copy = decide(wire, plenary)
    assert copy.matched
    assert without_repeated(copy, wire, plenary, repeated) == copy


BACKGROUND_AND_NEXT_STEPS = (
    "Background\n\nIn May 2022, the Commission proposed a regulation laying down rules to "
    "prevent and combat child sexual abuse online. The proposal would oblige providers of "
    "hosting and interpersonal communication services to assess the risk that their services "
    "are misused, and would allow national judicial authorities to issue detection orders. It "
    "would also set up an EU Centre on child sexual abuse to support national authorities, "
    "hotlines and providers, and to keep a database of indicators of known material.\n\nNext "
    "steps\n\nOnce the plenary has endorsed the mandate, negotiations with the Council on the "
    "final shape of the law can begin. The agreed text will then need to be formally approved "
    "by both Parliament and Council before it is published in the Official Journal and enters "
    "into force twenty days later."
)
EXTENSION_VOTE = (
    "On Tuesday, the Civil Liberties Committee voted by 51 votes to 9, with 4 abstentions, to "
    "extend the interim rules that allow providers to voluntarily detect child sexual abuse "
    "material on their services until April 2028. Rapporteur Birgit Sippel said the extension "
    "must be the last one and that the permanent framework has to be agreed without delay."
)
DIRECTIVE_VOTE = (
    "MEPs on Wednesday adopted their negotiating position on the recast of the directive on "
    "combating the sexual abuse and sexual exploitation of children, by 599 votes to 2 with 62 "
    "abstentions. The text abolishes limitation periods for the most serious offences and "
    "criminalises the livestreaming of abuse."
)
DIRECTIVE_TITLE = "Sexual abuse of children: Parliament ready to negotiate tougher criminal law"


@pytest.mark.parametrize(
    ("prefix", "lead"),
    [
        ("CORRECTION: ", DIRECTIVE_VOTE.replace("599 votes to 2", "597 votes to 4")),
        (
            "UPDATED: ",
            DIRECTIVE_VOTE + " After the vote, rapporteur Jeroen Lenaers told journalists that he"
            " expects the first trilogue with the Council to take place in January under the"
            " incoming presidency, and that he hopes for a final agreement before the summer"
            " recess.",
        ),
    ],
    ids=["corrected", "updated"],
)
def test_a_re_issued_release_keeps_the_guard_on_its_source_s_background(
    prefix: str, lead: str
) -> None:
    # A corrected or updated re-issue shares the whole release: counted as a sibling, it left
    # the release no text of its own, the guard could not judge, and the release matched
    # another Parliament feed's unrelated item through the Background they both carry.
    def release(key: str, source: str, title: str, text: str, hours: int) -> DedupeItem:
        return DedupeItem(
            key=key,
            source_id=source,
            org=OrgKind.PARLIAMENT,
            title=title,
            text=f"{text}\n\n{BACKGROUND_AND_NEXT_STEPS}",
            canonical_url=f"https://europarl.example/{key}",
            published=T0 + timedelta(hours=hours),
        )

    items = [
        release(
            "ep-1",
            "ep-press",
            "Child sexual abuse online: MEPs back extension of interim rules",
            EXTENSION_VOTE,
            0,
        ),
        release("ep-2", "ep-press", DIRECTIVE_TITLE, DIRECTIVE_VOTE, 22),
        release("ep-2-again", "ep-press", prefix + DIRECTIVE_TITLE, lead, 26),
        release(
            "libe-1",
            "ep-libe",
            "LIBE chair meets Europol executive director",
            "Committee chair Javier Zarzalejos met Europol's executive director in Strasbourg"
            " on Thursday to discuss data sharing between the agency and national police"
            " forces, the Europol mandate review and the agency's role in the future EU Centre.",
            74,
        ),
    ]
    # In every order where the source's other release is there before LIBE's item (before
    # that, its Background is not known as repeated: README, Deduplication).
    orders = [o for o in permutations(items) if o.index(items[0]) < o.index(items[3])]
    assert len(orders) == 12
    for order in orders:
        labels = cluster_items(list(order))
        assert labels["libe-1"] == "libe-1", [i.key for i in order]
        assert labels["ep-1"] != labels["ep-2"]
        assert labels["ep-2-again"] != labels["ep-1"]


# -- a release its source re-issued corrected, through the command line -------------------------
SURVIVORS_TITLE = "Commissioner Brunner meets survivors' organisations and child helplines"
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
HOME = "https://home-affairs.example.eu/news/"


def test_a_release_re_issued_corrected_at_a_marked_address_is_one_entry(
    http_server: FixtureServer, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The reviewer's reproduction: the release re-issued three hours later at its address
    # with "-corrected", one date changed; and, the same day, a statement of the same
    # template (another place) at an address of its own, which stays an entry of its own.
    now = datetime.now(UTC)

    def post(slug: str, text: str, hours: int) -> Post:
        link = HOME + slug
        return Post(
            guid=slug,
            title=SURVIVORS_TITLE,
            link=link,
            text=text,
            published=now - timedelta(hours=hours),
        )

    corrected = SURVIVORS.replace("next year", "in March 2027")
    other_meeting = SURVIVORS.replace("in Brussels", "in Vienna")
    posts = [post("b_en", SURVIVORS, 8), post("b-corrected_en", corrected, 5)]
    http_server.add(
        "/home.xml", body=rss("DG HOME news", [*posts, post("b-vienna_en", other_meeting, 4)])
    )
    config = write_config(
        env / "config", [feed_source("ec-home", http_server.url("/home.xml"), org="institution")]
    )
    _refresh(config, capsys)
    folded = {frozenset({HOME + "b_en", HOME + "b-corrected_en"})}
    assert _clusters(config, capsys) == folded
    _refresh(config, capsys)
    assert _clusters(config, capsys) == folded
