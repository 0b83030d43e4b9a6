"""What a parser says of the dates it could not read, or read without their zone: one
wording for RSS, Atom, JSON Feed and listing pages, which operators see side by side."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aggregator.models import RawItem
from aggregator.parse.dates import unknown_zone

_SHOWN_CHARS = 80  # of the first unread date, quoted


def dates_not_understood(unread: Sequence[str]) -> str:
    """For the items dated when first seen because their dates (`unread`) are none we read."""
    n = len(unread)
    return (
        f"{n} {'date' if n == 1 else 'dates'} not understood (such as"
        f" {unread[0][:_SHOWN_CHARS]!r}): dated when first seen"
    )


def zones_not_known(zones: Iterable[str]) -> str:
    """For dates read at the source's local time because they name a zone (`zones`, as
    written) that neither we nor the libraries know."""
    return (
        f"dates in a time zone not known here ({', '.join(sorted(zones))}) were read in"
        " the source's time zone (set `timezone` in sources.toml if that is wrong)"
    )


def unread_date(item: RawItem, written: Iterable[object]) -> list[str]:
    """The first of the dates an item's document gives (`written`), when none was read: the
    item is dated when first seen, which `dates_not_understood` says."""
    if item.published is not None or item.updated is not None:
        return []
    return [text.strip() for text in written if isinstance(text, str) and text.strip()][:1]


def zones_read_as_local(item: RawItem, written: Iterable[object]) -> set[str]:
    """The zones named in an item's dates (`written`) that neither we nor dateparser know,
    when a date was read without an offset (normalise then takes it as the source's local
    time): `zones_not_known` says so, where feedparser silently read such a time as UTC."""
    if not any(d is not None and d.tzinfo is None for d in (item.published, item.updated)):
        return set()
    return {zone for text in written if isinstance(text, str) and (zone := unknown_zone(text))}
