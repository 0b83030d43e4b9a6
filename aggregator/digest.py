"""Stage 7: the pure builder of a `Digest`. Values in, a value out: no SQL, no clock, no I/O.

A digest covers one window ``[window_start, window_end)`` of first-seen times for one profile.
Each cluster touched by the window becomes one `DigestEntry`: the primary item (see
`primary_item`) with every other source that published it. Entries are grouped by the first
topic tag, in the configured order, that any member carries (else "Other") and ranked inside a
group by number of sources, official organisations first, then recency. Items changed since the
profile last showed them come back marked with what changed, and in whose item: a change to
another source's publication of the story names that source and its own old and new title.
Failing sources and listing pages that went silent are listed at the end.

Followed procedures (the `ep-procedure` sources) come first, in their own section: per
procedure, the events first seen in the window, one line each, and the stage it has reached
(see `procedure_statuses`). Their events are not repeated among the topic groups, unless
another source's item joined one in a cluster (a press release on the same vote).

The half-open window is what makes "never skip, never twice" hold: the next window starts at
exactly this one's end, so an item first seen at ``window_end`` belongs to the next digest.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

import nh3

from aggregator.health import advice, blocked_problem
from aggregator.models import (
    OFFICIAL_ORGS,
    OrgKind,
    SourceHealth,
    SourceKind,
    StoredItem,
    is_publication_tag,
)
from aggregator.spacing import fold_spaces
from aggregator.text import has_html_tags, whole_characters
from aggregator.urls import mask_password

OTHER_LABEL = "Other"

# A source failing for longer than this is listed under "Sources with problems".
FAILING_AFTER = timedelta(days=1)

# Summaries are cut here (in characters) so a digest stays a digest.
SUMMARY_CHARS = 400

# The text diff of an updated item is cut to this many changed lines.
DIFF_LINES = 8

# Tags whose whole content is dropped, not just the tag: their text is never prose.
_DROP_CONTENT = {"script", "style", "iframe", "noscript", "template", "object", "svg", "math"}

_SAFE_SCHEMES = frozenset({"http", "https"})
# Block-level tags separate words; without a space "<p>a</p><p>b</p>" would read "ab".
_BLOCK_TAG = re.compile(
    r"<(/?)(p|br|div|li|h[1-6]|tr|td|th|ul|ol|blockquote|section|article)\b", re.I
)
# HTML's element names (and comments, declarations): a '<' before anything else is text, as
# in "List<T>", "Vector<int>" or "Kids <13", which a title may say, and stays.
_HTML_ELEMENTS = (
    "a abbr address area article aside audio b base bdi bdo blockquote body br button canvas "
    "caption center cite code col colgroup data datalist dd del details dfn dialog dir div dl "
    "dt em embed fieldset figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6 "
    "head header hgroup hr html i iframe img input ins kbd label legend li link main map mark "
    "marquee math menu meta meter nav noscript object ol optgroup option output p param "
    "picture pre progress q rp rt ruby s samp script search section select slot small source "
    "span strike strong style sub summary sup svg table tbody td template textarea tfoot th "
    "thead time title tr track tt u ul var video wbr"
)
_NOT_MARKUP = re.compile(
    r"<(?!/?(?:" + "|".join(_HTML_ELEMENTS.split()) + r")(?![\w-])|!|\?)", re.IGNORECASE
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceInfo:
    """What the digest needs to know about a source (a row of the `sources` table)."""

    id: str
    name: str
    url: str
    kind: SourceKind
    org: OrgKind


@dataclass(frozen=True, slots=True, kw_only=True)
class ShownRevision:
    """The revision of an item the profile's last digest showed, with its content if kept."""

    revision: int
    title: str | None = None  # None: that revision's content is no longer stored
    text: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """What changed in an item since it was last shown."""

    kind: Literal["title", "text"]
    before: str | None  # None: the shown version is not stored any more
    after: str
    diff: str = ""  # text changes: a short line diff ("- old" / "+ new" lines)
    # The item that changed: the entry's primary item, or another source's publication of
    # the story, which the digest names (its title is not the entry's). None in digests
    # recorded before changes named their item.
    item_id: int | None = None
    source_id: str | None = None
    source_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EntrySource:
    """One source's publication of an entry's story."""

    item_id: int
    source_id: str
    source_name: str
    org: OrgKind
    title: str
    url: str | None  # None when the feed's link was not http(s)
    published: datetime
    is_new: bool  # first seen inside this digest's window
    # No date in its document: `published` is when it was first seen (shown as such).
    published_is_fallback: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestEntry:
    """One cluster: its primary item, then every other source that published it."""

    cluster_id: int | None
    item_id: int
    title: str
    url: str | None
    published: datetime
    summary: str  # plain text, sanitised, at most SUMMARY_CHARS
    source: EntrySource  # the primary item's source
    others: tuple[EntrySource, ...]
    tags: tuple[str, ...]  # union over members, sorted
    changes: tuple[Change, ...] = ()  # non-empty: updated since last shown
    # The labels of its other topics, in section order: an entry is listed once, under its
    # first topic, and a reader of another topic's section still learns it is there.
    also_in: tuple[str, ...] = ()

    @property
    def updated(self) -> bool:
        return bool(self.changes)

    def changed_by(self, change: Change) -> str | None:
        """The name of the source whose item made `change` when that is not the primary
        item (whose title the entry shows); None for a change of the primary item."""
        if change.item_id is None or change.item_id == self.item_id:
            return None
        return change.source_name or change.source_id

    def joined(self, other: EntrySource) -> bool:
        """Whether `other` published the story inside this window while the entry was seen
        before: what brings a shown story back, and what its reader has not read. (In an
        entry whose every publication is new, saying so of each would be noise.)"""
        seen_before = not self.source.is_new or any(not o.is_new for o in self.others)
        return other.is_new and seen_before

    @property
    def source_count(self) -> int:
        return len({self.source.source_id, *(o.source_id for o in self.others)})


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestGroup:
    tag: str | None  # None: "Other"
    label: str
    entries: tuple[DigestEntry, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProblemSource:
    source_id: str
    name: str
    url: str
    problem: Literal["failing", "blocked", "no-items"]
    since: datetime | None  # failing, blocked: failing_since; no-items: the last fetch
    detail: str | None  # the last error, when there is one
    advice: str | None = None  # blocked: what the operator can do (aggregator.health)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureLine:
    """One event of a followed procedure: a line of the Procedures section."""

    item_id: int
    day: datetime  # the event's date (midnight UTC: the Parliament gives dates, not times)
    event: str  # readable, without the reference: "committee adopted its report"
    url: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureStatus:
    """A followed procedure: what happened in the window, and the stage it has reached."""

    source_id: str
    name: str  # the source's name
    reference: str | None  # "2022/0155(COD)"
    events: tuple[ProcedureLine, ...]  # first seen in the window, oldest first
    stage: str | None  # "1st reading": the stage of the latest event known
    latest: ProcedureLine | None  # the latest event known, in the window or before it


@dataclass(frozen=True, slots=True, kw_only=True)
class Digest:
    profile: str
    window_start: datetime
    window_end: datetime
    generated_at: datetime
    timezone: str  # the profile's IANA zone, for dates shown to readers
    groups: tuple[DigestGroup, ...]
    problems: tuple[ProblemSource, ...]
    # Every (item id, revision) the digest shows, recorded so the next one can say "updated".
    shown: tuple[tuple[int, int], ...]
    procedures: tuple[ProcedureStatus, ...] = ()  # shown first, before the groups

    @property
    def entries(self) -> tuple[DigestEntry, ...]:
        return tuple(e for g in self.groups for e in g.entries)

    @property
    def entry_count(self) -> int:
        return sum(len(g.entries) for g in self.groups)

    @property
    def new_item_count(self) -> int:
        return sum(s.is_new for e in self.entries for s in (e.source, *e.others))

    @property
    def updated_count(self) -> int:
        return sum(e.updated for e in self.entries)

    @property
    def source_count(self) -> int:
        return len({s.source_id for e in self.entries for s in (e.source, *e.others)})

    @property
    def procedure_event_count(self) -> int:
        return sum(len(p.events) for p in self.procedures)

    @property
    def is_empty(self) -> bool:
        return not self.groups and not self.procedure_event_count


def primary_item(members: Iterable[StoredItem], sources: Mapping[str, SourceInfo]) -> StoredItem:
    """The item that stands for its cluster: official organisations first, then the earliest
    published, then the smallest id (so the choice is stable). The one place this rule lives."""

    def key(item: StoredItem) -> tuple[bool, datetime, int]:
        info = sources.get(item.source_id)
        official = info is not None and info.org in OFFICIAL_ORGS
        return (not official, item.published, item.id)

    return min(members, key=key)


def sanitise_text(value: str) -> str:
    """A stored title or text as one line of plain text that no renderer can turn into
    markup (each also escapes it for its format).

    Stored fields are plain text, kept as written ("Kids <13", "Why the <template> element
    matters"). Where one still holds unmistakable markup (a row written by an older
    release, a writer that skipped normalise), nh3 drops every tag, and the content of
    script-like ones; unescaping can reveal markup that was entity-encoded (double-escaped
    feeds), so that is cleaned until nothing changes.
    """
    seen = html.unescape(value) if "&" in value else value  # "&lt;b&gt;x&lt;/b&gt;" too
    if not has_html_tags(seen):  # the same test normalise puts an RSS title to
        return fold_spaces(value)  # a no-break space between words stays ("32\u00a0000")
    text = _BLOCK_TAG.sub(r" <\1\2", value)
    for _ in range(4):
        kept = _NOT_MARKUP.sub("&lt;", text)  # "<T>" is text, not a tag to drop
        cleaned = html.unescape(
            nh3.clean(kept, tags=set(), clean_content_tags=_DROP_CONTENT, attributes={})
        )
        if cleaned == text:
            break
        text = cleaned
    return fold_spaces(text)


def safe_url(url: str | None) -> str | None:
    """The URL when it is http(s), else None: no javascript:, data: or relative links."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in _SAFE_SCHEMES else None


def shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[: whole_characters(text, limit - 1)].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"


def tag_allowed(
    tags: Iterable[str], include_tags: Sequence[str], exclude_tags: Sequence[str]
) -> bool:
    """Include: kept when any tag is included (empty include keeps all); exclude wins."""
    present = set(tags)
    if present & set(exclude_tags):
        return False
    return not include_tags or bool(present & set(include_tags))


def text_diff(before: str, after: str, limit: int = DIFF_LINES) -> str:
    """A short line diff: sentences on their own lines, only the changed ones kept."""

    def lines(text: str) -> list[str]:
        return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]

    changed = [
        line for line in difflib.ndiff(lines(before), lines(after)) if line.startswith(("- ", "+ "))
    ]
    if len(changed) > limit:
        changed = [*changed[:limit], f"… {len(changed) - limit} more changed lines"]
    return "\n".join(changed)


def changes_since(item: StoredItem, shown: ShownRevision) -> tuple[Change, ...]:
    """What changed between the shown revision and the item now; () when nothing did."""
    if item.revision <= shown.revision:
        return ()
    title, text = sanitise_text(item.title), sanitise_text(item.text)
    if shown.title is None or shown.text is None:
        # The shown revision is gone from the store: we know it changed, not how.
        return (Change(kind="text", before=None, after=shorten(text)),)
    found: list[Change] = []
    old_title, old_text = sanitise_text(shown.title), sanitise_text(shown.text)
    if old_title != title:
        found.append(Change(kind="title", before=old_title, after=title))
    if old_text != text:
        found.append(
            Change(
                kind="text",
                before=shorten(old_text),
                after=shorten(text),
                diff=text_diff(old_text, text),
            )
        )
    return tuple(found)


def build_digest(
    *,
    profile: str,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    timezone: str,
    items: Sequence[StoredItem],
    sources: Mapping[str, SourceInfo],
    health: Sequence[SourceHealth],
    shown: Mapping[int, ShownRevision],
    topic_order: Sequence[str],
    topic_labels: Mapping[str, str],
    include_tags: Sequence[str] = (),
    exclude_tags: Sequence[str] = (),
    procedure_latest: Mapping[str, StoredItem] | None = None,
    late_since: datetime | None = None,
) -> Digest:
    """Build the digest of ``[window_start, window_end)``; an item first seen from
    `late_since` on that the profile never showed counts as new too (committed after the
    previous digest read the store: `store.digests.load_window_items`).

    `items` are the window's candidates *and* their cluster mates (which may be older: they
    are listed as other sources but do not by themselves bring a cluster in). `shown` maps an
    item id to the revision this profile last showed. A cluster is in the digest when a member
    was first seen in the window, or was changed (before `window_end`) since it was shown.
    `procedure_latest` maps an ep-procedure source to its latest stored event, so the
    Procedures section can say where a procedure stands when nothing happened in the window.
    """
    clusters: dict[tuple[str, int], list[StoredItem]] = {}
    for item in items:
        key = ("c", item.cluster_id) if item.cluster_id is not None else ("i", item.id)
        clusters.setdefault(key, []).append(item)

    def is_new(item: StoredItem) -> bool:
        if window_start <= item.first_seen < window_end:
            return True
        return (
            late_since is not None
            and late_since <= item.first_seen < window_start
            and item.id not in shown
        )

    # A publication's tags ("lang:de", "org:press") choose the publications listed; the
    # others (topics) choose the stories. `exclude_tags = ["org:press"]` leaves the press's
    # copies out of a story the Council told, not the story.
    by_item = (
        [t for t in include_tags if is_publication_tag(t)],
        [t for t in exclude_tags if is_publication_tag(t)],
    )
    include_tags = [t for t in include_tags if not is_publication_tag(t)]
    exclude_tags = [t for t in exclude_tags if not is_publication_tag(t)]

    entries: list[DigestEntry] = []
    shown_pairs: list[tuple[int, int]] = []
    for cluster_members in clusters.values():
        members = [m for m in cluster_members if tag_allowed(m.tags, *by_item)]
        if not members:
            continue
        changed: list[Change] = []
        for member in members:
            previous = shown.get(member.id)
            if previous is not None and member.last_changed < window_end:
                info = sources.get(member.source_id)
                changed.extend(
                    replace(
                        change,
                        item_id=member.id,
                        source_id=member.source_id,
                        source_name=info.name if info else member.source_id,
                    )
                    for change in changes_since(member, previous)
                )
        if not (any(is_new(m) for m in members) or changed):
            continue
        tags = sorted({t for m in members for t in m.tags})
        if not tag_allowed(tags, include_tags, exclude_tags):
            continue
        shown_pairs.extend((m.id, m.revision) for m in members if m.first_seen < window_end)
        if all(_is_procedure_event(m, sources) for m in members):
            continue  # shown in the Procedures section
        entries.append(_entry(members, sources, tags, tuple(changed), is_new))

    procedures = procedure_statuses(
        items=[i for i in items if tag_allowed(i.tags, *by_item)],
        sources=sources,
        latest=procedure_latest or {},
        window_start=window_start,
        window_end=window_end,
        include_tags=include_tags,
        exclude_tags=exclude_tags,
    )
    # Every event listed is shown too, also one whose cluster the profile's tags leave out:
    # a digest that shows anything records at least one item (the API tells empty digests
    # from others by that), and retention keeps what a digest showed.
    revisions = {i.id: i.revision for i in items}
    shown_pairs.extend((e.item_id, revisions[e.item_id]) for p in procedures for e in p.events)
    return Digest(
        profile=profile,
        window_start=window_start,
        window_end=window_end,
        generated_at=now,
        timezone=timezone,
        groups=_group(entries, topic_order, topic_labels),
        problems=problem_sources(health, sources, now=now),
        shown=tuple(sorted(set(shown_pairs))),
        procedures=procedures,
    )


def _is_procedure_event(item: StoredItem, sources: Mapping[str, SourceInfo]) -> bool:
    info = sources.get(item.source_id)
    return info is not None and info.kind is SourceKind.EP_PROCEDURE


def procedure_statuses(
    *,
    items: Sequence[StoredItem],
    sources: Mapping[str, SourceInfo],
    latest: Mapping[str, StoredItem],
    window_start: datetime,
    window_end: datetime,
    include_tags: Sequence[str] = (),
    exclude_tags: Sequence[str] = (),
) -> tuple[ProcedureStatus, ...]:
    """Per followed procedure (ep-procedure source): its events first seen in the window,
    and its stage, read from the `stage:` tag of the latest event known (in the window, or
    `latest`). Procedures with news come first, then the others; each by name. A procedure
    with nothing stored yet, or whose latest event the profile's tags exclude, is left out."""
    statuses: list[ProcedureStatus] = []
    for info in sources.values():
        if info.kind is not SourceKind.EP_PROCEDURE:
            continue
        own = [i for i in items if i.source_id == info.id and i.first_seen < window_end]
        known = list(own)
        if (before := latest.get(info.id)) is not None and before.first_seen < window_end:
            known.append(before)
        newest = max(known, key=lambda i: (i.published, i.id), default=None)
        if newest is None or not tag_allowed(newest.tags, include_tags, exclude_tags):
            continue  # nothing stored yet to say, or not for this profile
        new = sorted(
            (
                i
                for i in own
                if window_start <= i.first_seen < window_end
                and tag_allowed(i.tags, include_tags, exclude_tags)
            ),
            key=lambda i: (i.published, i.id),
        )
        statuses.append(
            ProcedureStatus(
                source_id=info.id,
                name=info.name,
                reference=_procedure_reference(newest),
                events=tuple(_procedure_line(i) for i in new),
                stage=_stage(newest),
                latest=_procedure_line(newest),
            )
        )
    return tuple(sorted(statuses, key=lambda s: (not s.events, s.name, s.source_id)))


# "2022/0155(COD) — committee adopted its report": the reference, then the event.
_REFERENCE_TITLE = re.compile(r"^(\d{4}/\d{4}\([A-Z]{3}\))\s+—\s+(.+)$", re.S)


def _procedure_line(item: StoredItem) -> ProcedureLine:
    title = sanitise_text(item.title)
    found = _REFERENCE_TITLE.match(title)
    return ProcedureLine(
        item_id=item.id,
        day=item.published,
        event=found.group(2) if found else title,
        url=safe_url(item.url),
    )


def _procedure_reference(item: StoredItem) -> str | None:
    found = _REFERENCE_TITLE.match(sanitise_text(item.title))
    if found:
        return found.group(1)
    return next((t.partition(":")[2] for t in item.tags if t.startswith("procedure:")), None)


def _stage(item: StoredItem) -> str | None:
    """ "stage:1st-reading" -> "1st reading"; "completed" once the procedure file says so
    (`status:completed`), whatever the reading of its last event."""
    if "status:completed" in item.tags:
        return "completed"
    tag = next((t for t in sorted(item.tags) if t.startswith("stage:")), None)
    return tag.partition(":")[2].replace("-", " ") if tag else None


def _entry_source(item: StoredItem, info: SourceInfo | None, *, new: bool) -> EntrySource:
    return EntrySource(
        item_id=item.id,
        source_id=item.source_id,
        source_name=info.name if info else item.source_id,
        org=info.org if info else OrgKind.PRESS,
        title=sanitise_text(item.title),
        url=safe_url(item.url),
        published=item.published,
        is_new=new,
        published_is_fallback=item.published_is_fallback,
    )


def _entry(
    members: list[StoredItem],
    sources: Mapping[str, SourceInfo],
    tags: list[str],
    changes: tuple[Change, ...],
    is_new: Callable[[StoredItem], bool],
) -> DigestEntry:
    primary = primary_item(members, sources)
    others = sorted(
        (m for m in members if m.id != primary.id),
        key=lambda m: (m.published, m.id),
    )
    # The primary item's changes first: they are about the title and summary shown above.
    changes = tuple(sorted(changes, key=lambda c: c.item_id != primary.id))
    return DigestEntry(
        cluster_id=primary.cluster_id,
        item_id=primary.id,
        title=sanitise_text(primary.title) or "(untitled)",
        url=safe_url(primary.url),
        published=primary.published,
        summary=shorten(sanitise_text(primary.summary or primary.text)),
        source=_entry_source(primary, sources.get(primary.source_id), new=is_new(primary)),
        others=tuple(_entry_source(m, sources.get(m.source_id), new=is_new(m)) for m in others),
        tags=tuple(tags),
        changes=changes,
    )


def rank_key(entry: DigestEntry) -> tuple[int, bool, float, int]:
    """More sources first, then official organisations, then the most recent, then stable."""
    return (
        -entry.source_count,
        entry.source.org not in OFFICIAL_ORGS,
        -entry.published.timestamp(),
        entry.item_id,
    )


def _group(
    entries: list[DigestEntry], topic_order: Sequence[str], topic_labels: Mapping[str, str]
) -> tuple[DigestGroup, ...]:
    # The configured order first, then the other topics of the tags file alphabetically (an
    # item tagged with a topic left out of the order is in that topic's section, not Other).
    listed = set(topic_order)
    topic_order = [*topic_order, *sorted(t for t in topic_labels if t not in listed)]
    buckets: dict[str | None, list[DigestEntry]] = {}
    for entry in entries:
        topics = [t for t in topic_order if t in entry.tags]
        topic = topics[0] if topics else None
        also_in = tuple(topic_labels.get(t, t) for t in topics[1:])
        buckets.setdefault(topic, []).append(replace(entry, also_in=also_in))
    groups = [
        DigestGroup(
            tag=topic,
            label=topic_labels.get(topic, topic),
            entries=tuple(sorted(buckets[topic], key=rank_key)),
        )
        for topic in topic_order
        if topic in buckets
    ]
    if None in buckets:
        groups.append(
            DigestGroup(
                tag=None, label=OTHER_LABEL, entries=tuple(sorted(buckets[None], key=rank_key))
            )
        )
    return tuple(groups)


def problem_sources(
    health: Sequence[SourceHealth], sources: Mapping[str, SourceInfo], *, now: datetime
) -> tuple[ProblemSource, ...]:
    """Sources failing for more than a day; blocked sources (a bot-protection challenge)
    once blocked twice in a row or for a day, with advice (aggregator.health); and listing
    pages that yielded items once and now yield none (their selectors probably no longer
    match the page)."""
    found: list[ProblemSource] = []
    for h in sorted(health, key=lambda h: h.id):
        info = sources.get(h.id)
        name = info.name if info else h.id
        if blocked_problem(h, now=now):
            found.append(
                ProblemSource(
                    source_id=h.id,
                    name=name,
                    url=mask_password(h.url),
                    problem="blocked",
                    since=h.failing_since,
                    detail=h.last_error,
                    advice=advice(h),
                )
            )
        elif h.failing_since is not None and now - h.failing_since > FAILING_AFTER:
            found.append(
                ProblemSource(
                    source_id=h.id,
                    name=name,
                    url=mask_password(h.url),
                    problem="failing",
                    since=h.failing_since,
                    detail=h.last_error,
                )
            )
        elif (
            info is not None
            and info.kind is SourceKind.HTML
            and h.ever_yielded
            and h.last_item_count == 0
        ):
            found.append(
                ProblemSource(
                    source_id=h.id,
                    name=name,
                    url=mask_password(h.url),
                    problem="no-items",
                    since=h.last_success_at,
                    detail=None,
                )
            )
    return tuple(found)
