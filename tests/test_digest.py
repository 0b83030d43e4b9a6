"""The pure digest builder: folding, grouping, ranking, updates, problems, window edges."""

from __future__ import annotations

import html
import itertools
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import markupsafe
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.deliver.render import (
    digest_to_json,
    md_escape,
    render_html,
    render_markdown,
    render_text,
)
from aggregator.digest import (
    ShownRevision,
    primary_item,
    sanitise_text,
    text_diff,
)
from aggregator.models import SourceKind
from tests.support_digest import SOURCES, T0, T1, digest_of, health, item, sample_digest


def test_a_cluster_folds_into_one_entry_led_by_the_official_source() -> None:
    # EDRi published first, but the Council is an institution: its item is the primary.
    items = [
        item(1, "edri", cluster_id=7, published=T0),
        item(2, "council", cluster_id=7, published=T0 + timedelta(hours=3)),
        item(3, "netzpolitik", cluster_id=7, published=T0 + timedelta(hours=1)),
    ]
    [entry] = digest_of(items).entries
    assert entry.item_id == 2
    assert entry.source.source_name == "Council of the EU"
    assert [o.source_id for o in entry.others] == ["edri", "netzpolitik"]  # by publication
    assert entry.source_count == 3


def test_primary_item_rule_official_then_earliest_then_smallest_id() -> None:
    same_time = T0 + timedelta(hours=2)
    ngo_early = item(1, "edri", published=T0)
    official_late = item(5, "council", published=same_time)
    official_late_too = item(4, "ep-press", published=same_time)
    assert primary_item([ngo_early, official_late], SOURCES) is official_late
    assert primary_item([official_late, official_late_too], SOURCES) is official_late_too
    assert primary_item([ngo_early, item(9, "netzpolitik", published=same_time)], SOURCES) is (
        ngo_early
    )


def test_groups_follow_the_topic_order_then_other() -> None:
    items = [
        item(1, "edri", tags=("dsa",)),
        item(2, "edri", tags=()),
        item(3, "edri", tags=("encryption", "csar")),  # first topic in the order wins: csar
        item(4, "edri", tags=("encryption",)),
        item(5, "edri", tags=("unknown-tag",)),
    ]
    digest = digest_of(items)
    assert [(g.tag, g.label) for g in digest.groups] == [
        ("csar", "CSA Regulation"),
        ("encryption", "Encryption"),
        ("dsa", "Digital Services Act"),
        (None, "Other"),
    ]
    assert [e.item_id for e in digest.groups[-1].entries] == [5, 2]  # newest first
    # Listed once, under csar; the encryption section's readers are told where it is.
    [both] = [e for e in digest.groups[0].entries if e.item_id == 3]
    assert both.also_in == ("Encryption",)
    assert [e.also_in for e in digest.groups[1].entries] == [()]


def test_an_entry_under_one_topic_names_its_others_in_every_format() -> None:
    from aggregator.deliver.render import render_html, render_json, render_markdown, render_text

    digest = digest_of([item(3, "edri", tags=("dsa", "encryption", "csar"))])
    [entry] = digest.groups[0].entries
    assert entry.also_in == ("Encryption", "Digital Services Act")
    assert "  Also in: Encryption, Digital Services Act\n" in render_text(digest)
    assert "also in Encryption, Digital Services Act" in render_html(digest)
    assert "; also in Encryption, Digital Services Act*" in render_markdown(digest)
    [[data]] = [g["entries"] for g in json.loads(render_json(digest))["groups"]]
    assert data["also_in"] == ["Encryption", "Digital Services Act"]


def test_topics_left_out_of_the_order_follow_it_alphabetically_not_under_other() -> None:
    items = [
        item(1, "edri", tags=("dsa",)),
        item(2, "edri", tags=("age-verification",)),
        item(3, "edri", tags=("encryption", "csar")),
        item(4, "edri", tags=()),
    ]
    digest = digest_of(items, topic_order=("encryption",))
    groups = [(g.tag, [e.item_id for e in g.entries]) for g in digest.groups]
    # Item 3 is in its first topic's section, "encryption": the csar section has no entry.
    assert groups == [
        ("encryption", [3]),
        ("age-verification", [2]),
        ("dsa", [1]),
        (None, [4]),
    ]


def test_ranking_sources_then_institutions_then_recency() -> None:
    items = [
        # two sources: ranks first although oldest
        item(1, "edri", cluster_id=1, tags=("csar",), published=T0),
        item(2, "netzpolitik", cluster_id=1, tags=("csar",), published=T0),
        # single sources: the institution before the newer NGO item
        item(3, "council", tags=("csar",), published=T0 + timedelta(hours=1)),
        item(4, "edri", tags=("csar",), published=T0 + timedelta(hours=5)),
        item(5, "ecpat", tags=("csar",), published=T0 + timedelta(hours=6)),
    ]
    [group] = digest_of(items).groups
    assert [e.item_id for e in group.entries] == [1, 3, 5, 4]


def test_window_is_half_open() -> None:
    at_start = item(1, "edri", first_seen=T0)
    at_end = item(2, "edri", first_seen=T1)
    before = item(3, "edri", first_seen=T0 - timedelta(microseconds=1))
    first = digest_of([at_start, at_end, before])
    assert [e.item_id for e in first.entries] == [1]
    second = digest_of([at_start, at_end, before], start=T1, end=T1 + timedelta(days=1))
    assert [e.item_id for e in second.entries] == [2]


@settings(max_examples=60, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=30),
    cuts=st.lists(st.integers(min_value=1, max_value=10_000), max_size=5),
)
def test_consecutive_windows_show_every_item_exactly_once(
    offsets: list[int], cuts: list[int]
) -> None:
    items = [
        item(i + 1, "edri", first_seen=T0 + timedelta(seconds=s)) for i, s in enumerate(offsets)
    ]
    edges = [T0, *sorted({T0 + timedelta(seconds=c) for c in cuts}), T0 + timedelta(seconds=10_001)]
    shown: list[int] = []
    for start, end in itertools.pairwise(edges):
        shown.extend(e.item_id for e in digest_of(items, start=start, end=end).entries)
    assert sorted(shown) == [i.id for i in items]


def test_an_old_cluster_mate_is_listed_but_does_not_bring_its_cluster_back() -> None:
    old = item(1, "council", cluster_id=3, first_seen=T0 - timedelta(days=2))
    new = item(2, "edri", cluster_id=3)
    [entry] = digest_of([old, new]).entries
    assert entry.item_id == 1  # still the primary: official
    assert entry.source.is_new is False
    assert [(o.item_id, o.is_new) for o in entry.others] == [(2, True)]
    assert digest_of([old]).entries == ()


def test_a_source_joining_a_story_seen_before_is_marked_new_in_every_format() -> None:
    old = item(1, "council", cluster_id=3, first_seen=T0 - timedelta(days=2))
    joined = item(2, "edri", cluster_id=3)
    digest = digest_of([old, joined])
    [entry] = digest.entries
    assert [entry.joined(o) for o in entry.others] == [True]
    assert "EDRi (new)," in render_text(digest)
    assert '<strong class="new">new</strong>' in render_html(digest)
    assert " (new), " in render_markdown(digest)
    # A story first seen in this window: every publication is new; none is marked.
    fresh = digest_of([replace(old, first_seen=T0 + timedelta(minutes=5)), joined])
    [entry] = fresh.entries
    assert [entry.joined(o) for o in entry.others] == [False]
    assert "(new)" not in render_text(fresh)


def test_a_source_joining_as_the_story_s_new_headline_is_marked_new_in_every_format() -> None:
    # The Council's copy of a statement NGOs published before heads the entry (an official
    # body's item is the primary): the reader must see it is what is new, not only the
    # NGOs' older publications listed below it.
    old = item(1, "edri", cluster_id=3, first_seen=T0 - timedelta(days=2))
    council = item(2, "council", cluster_id=3)
    digest = digest_of([old, council])
    [entry] = digest.entries
    assert entry.source.source_id == "council" and entry.joined(entry.source)
    assert [entry.joined(o) for o in entry.others] == [False]
    text = render_text(digest)
    assert "Council of the EU (new)," in text
    assert render_html(digest).count('<strong class="new">new</strong>') == 1
    assert render_markdown(digest).count("(new)") == 1


def test_updated_item_is_marked_with_title_change_and_text_diff() -> None:
    changed = item(
        1,
        "edri",
        first_seen=T0 - timedelta(days=2),
        last_changed=T0 + timedelta(hours=1),
        revision=3,
        title="Council position adopted",
        text="The Council adopted its position. Scanning is voluntary.",
    )
    shown = {
        1: ShownRevision(
            revision=2,
            title="Council position expected",
            text="The Council adopted its position. Scanning is mandatory.",
        )
    }
    [entry] = digest_of([changed], shown=shown).entries
    assert entry.updated
    title, text = entry.changes
    assert (title.kind, title.before, title.after) == (
        "title",
        "Council position expected",
        "Council position adopted",
    )
    assert text.kind == "text"
    assert text.diff.splitlines() == ["- Scanning is mandatory.", "+ Scanning is voluntary."]


def test_an_item_shown_at_its_current_revision_is_not_shown_again() -> None:
    seen = item(1, "edri", first_seen=T0 - timedelta(days=2), revision=2)
    assert digest_of([seen], shown={1: ShownRevision(revision=2, title="x", text="y")}).is_empty


def test_a_change_after_the_window_end_waits_for_the_next_window() -> None:
    later = item(1, "edri", first_seen=T0 - timedelta(days=2), last_changed=T1, revision=2)
    shown = {1: ShownRevision(revision=1, title="Statement 1", text="old")}
    assert digest_of([later], shown=shown).is_empty
    nxt = digest_of([later], shown=shown, start=T1, end=T1 + timedelta(days=1))
    assert nxt.updated_count == 1


def test_an_update_whose_old_revision_is_gone_is_still_marked() -> None:
    changed = item(1, "edri", first_seen=T0 - timedelta(days=2), revision=2)
    [entry] = digest_of([changed], shown={1: ShownRevision(revision=1)}).entries
    [change] = entry.changes
    assert change.before is None and change.kind == "text"


def test_shown_records_every_member_revision_of_the_entries() -> None:
    digest = digest_of(
        [item(1, "edri", cluster_id=1), item(2, "council", cluster_id=1, revision=4)]
    )
    assert digest.shown == ((1, 1), (2, 4))


def test_include_and_exclude_tags_act_on_the_whole_cluster() -> None:
    items = [
        item(1, "edri", cluster_id=1, tags=("csar",)),
        item(2, "council", cluster_id=1, tags=("dsa",)),
        item(3, "edri", tags=("encryption",)),
        item(4, "edri", tags=()),
    ]
    assert {e.item_id for e in digest_of(items, include=("dsa",)).entries} == {2}
    assert {e.item_id for e in digest_of(items, exclude=("csar",)).entries} == {3, 4}
    assert {e.item_id for e in digest_of(items, include=("csar", "encryption")).entries} == {2, 3}
    assert len(digest_of(items).entries) == 3


def test_problem_sources_failing_over_a_day_and_silent_listing_pages() -> None:
    rows = [
        health("netzpolitik", failing_since=T1 - timedelta(days=1, seconds=1), last_error="boom"),
        health("edri", failing_since=T1 - timedelta(hours=23)),  # not yet a day
        health("ecpat", last_item_count=0),  # html, used to yield: selectors broke
        health("council", last_item_count=0, ever_yielded=False),  # never yielded: not "now none"
        health("ep-press", last_item_count=0),  # a feed with no items is not a broken listing
    ]
    assert SOURCES["ecpat"].kind is SourceKind.HTML
    problems = digest_of([], health_rows=rows).problems
    assert [(p.source_id, p.problem, p.detail) for p in problems] == [
        ("ecpat", "no-items", None),
        ("netzpolitik", "failing", "boom"),
    ]


def test_counts() -> None:
    digest = sample_digest()
    assert digest.entry_count == 4
    assert digest.updated_count == 1
    assert digest.new_item_count == 5  # item 6 was first seen before the window
    assert digest.source_count == 5
    assert len(digest.problems) == 2


@pytest.mark.parametrize(
    "title",
    [
        "Generics: List<T> & Map<K,V>",
        "Vector<int> & friends",
        "Kids <13 & social media",
        "a < b",
        "Why the <template> element matters for age verification",
        "Threshold: if a<b and c>d then flag",
    ],
)
def test_sanitise_text_keeps_angle_brackets_that_are_no_markup(title: str) -> None:
    # Stored titles are plain text: even what looks like a tag is the title's own words
    # (each renderer escapes it), where the digest cut "Why the <template> element ..." short.
    assert sanitise_text(title) == title
    digest = digest_of([replace(item(1, "council"), title=title)])
    assert title in render_text(digest)
    assert str(markupsafe.escape(title)) in render_html(digest)
    assert md_escape(title) in render_markdown(digest)


def test_text_diff_is_short() -> None:
    before = " ".join(f"Sentence {i}." for i in range(30))
    after = " ".join(f"Sentence {i}!" for i in range(30))
    lines = text_diff(before, after).splitlines()
    assert len(lines) == 9 and lines[-1] == "… 52 more changed lines"


BRUSSELS = ZoneInfo("Europe/Brussels")


def test_a_publication_without_a_date_is_shown_as_first_seen_in_every_format() -> None:
    # Its document gave no date: the time shown is a sighting, not a publication.
    undated = item(1, "council", published_is_fallback=True)
    dated = item(2, "edri", cluster_id=None)
    digest = digest_of([undated, dated])
    shown = {e.item_id: e.source.published_is_fallback for e in digest.entries}
    assert shown == {1: True, 2: False}
    first_seen = "first seen " + undated.published.astimezone(BRUSSELS).strftime("%Y-%m-%d %H:%M")
    for rendered in (render_text(digest), render_html(digest), render_markdown(digest)):
        assert rendered.count("first seen") == 1 and first_seen in rendered
    sources = [e["source"] for g in digest_to_json(digest)["groups"] for e in g["entries"]]
    assert sorted(s["published_is_fallback"] for s in sources) == [False, True]


def test_a_publication_s_tags_choose_publications_and_topics_choose_stories() -> None:
    council = item(1, "council", cluster_id=7, tags=("csar", "org:institution", "lang:en"))
    ngo = item(2, "edri", cluster_id=7, tags=("csar", "org:ngo", "lang:en"))
    german = item(3, "netzpolitik", cluster_id=7, tags=("csar", "org:press", "lang:de"))
    other = item(4, "edri", tags=("encryption", "org:ngo", "lang:en"))
    stories = [council, ngo, german, other]

    def listed(**filters: tuple[str, ...]) -> list[list[int]]:
        digest = digest_of(stories, **filters)
        return sorted([e.item_id, *(o.item_id for o in e.others)] for e in digest.entries)

    # Without the NGO's copies: the Council's story stays, without EDRi among its sources.
    assert listed(exclude=("org:ngo",)) == [[1, 3]]
    # A German-language digest: the German copy alone, heading its story.
    assert listed(include=("lang:de",)) == [[3]]
    # NGO publications of the CSAR topic: the topic chooses the story, the tag the copies.
    assert listed(include=("csar", "org:ngo")) == [[2]]
    # Topics still act on the whole story.
    assert listed(exclude=("csar",)) == [[4]]


def test_a_date_given_without_a_time_is_shown_as_that_day_alone() -> None:
    # Stored as midnight UTC: in Brussels 01:00, which the source never wrote; in a zone
    # west of UTC it would show as the day before.
    day_only = item(1, "council", published=datetime(2025, 11, 12, tzinfo=UTC))
    timed = item(2, "edri", cluster_id=None)
    for zone in ("Europe/Brussels", "America/New_York"):
        digest = replace(digest_of([day_only, timed]), timezone=zone)
        timed_shown = timed.published.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
        for rendered in (render_text(digest), render_html(digest), render_markdown(digest)):
            assert "2025-11-12" in rendered and "2025-11-12 01:00" not in rendered
            assert "2025-11-11 19:00" not in rendered
            assert timed_shown in rendered


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("1. Introduction: chat control returns.", "1\\. Introduction: chat control returns."),
        ("- the Council's position", "\\- the Council's position"),
        ("Year 2024. Next steps", "Year 2024. Next steps"),
        ("A - B", "A - B"),
    ],
)
def test_markdown_keeps_a_leading_number_or_dash_from_opening_a_list(
    text: str, escaped: str
) -> None:
    # CommonMark made a summary starting "1. Introduction" a numbered list.
    assert md_escape(text) == escaped


@pytest.mark.parametrize(
    "title", ["Entity &copy; explained", "a &lt;tag&gt; b", "AT&T & co", "Use <br> tags"]
)
def test_markdown_shows_a_title_s_ampersands_and_brackets_as_the_other_formats_do(
    title: str,
) -> None:
    # CommonMark reads "&copy;" as an entity: the .md digest showed "©" where the text and
    # HTML digests show "&copy;".
    from markdown_it import MarkdownIt

    rendered = MarkdownIt().render(md_escape(title))
    assert html.unescape(re.sub(r"</?p>", "", rendered)).strip() == title


def test_titles_and_summaries_in_a_right_to_left_script_take_their_own_direction() -> None:
    # A Hebrew title with Latin words in an English page: without dir="auto" the browser
    # lays its runs out left to right.
    title = "עברית: הצפנה מקצה לקצה ו-chat control בפרלמנט"
    digest = digest_of([replace(item(1, "council"), title=title)])
    rendered = render_html(digest)
    # (CSS inlining writes a style after the attributes, in its own order.)
    assert re.search(rf'<a class="title"[^>]* dir="auto"[^>]*>{re.escape(title)}</a>', rendered)
    assert re.search(r'<p class="summary"[^>]* dir="auto"', rendered)
