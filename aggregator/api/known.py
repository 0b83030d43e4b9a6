"""Names a request may filter by, checked against what exists: a source id or a digest
profile that is neither configured nor stored is a mistake to name (a 422 naming the
parameter and listing what is known), not a filter that quietly matches nothing."""

from __future__ import annotations

from sqlalchemy import select

from aggregator.api.context import ApiContext
from aggregator.api.problems import bad_parameter
from aggregator.store.schema import digests, item_tags


def known_sources(ctx: ApiContext, ids: tuple[str, ...]) -> tuple[str, ...]:
    """Source ids of the config or the store (a removed source's items are kept); another
    is a mistake to name, not a filter that matches nothing."""
    if not ids:
        return ids
    known = {s.id for s in ctx.configured_sources()}
    if not known.issuperset(ids):
        known |= {h.id for h in ctx.app.health()}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise bad_parameter("source", f"unknown source id {unknown[0]!r} (known: {_listed(known)})")
    return ids


def known_profile(ctx: ApiContext, profile: str | None) -> str | None:
    """A digest profile of the config, or one the store has digests of (a profile since
    removed from the config keeps its digests)."""
    if profile is None:
        return None
    known = {p.name for p in ctx.app.settings.digest.profiles}
    if profile not in known:
        with ctx.app.store.engine.connect() as conn:
            known |= set(conn.execute(select(digests.c.profile).distinct()).scalars())
    if profile not in known:
        raise bad_parameter(
            "profile", f"unknown digest profile {profile!r} (known: {_listed(known)})"
        )
    return profile


def known_tags(ctx: ApiContext, tags: tuple[str, ...]) -> tuple[str, ...]:
    """Tags a stored item carries, or that the config may set (a topic of tags.toml, a tag a
    source sets, an automatic tag that can occur); another is a typo to name ("DMA" for
    "dma", "country:FR"), said with the tag meant, where the config would refuse it too,
    not an empty page."""
    from aggregator.settings.tag_refs import can_occur, topic_names, unknown_tag

    if not tags:
        return tags
    with ctx.app.store.engine.connect() as conn:

        def stored(tag: str) -> bool:
            found = select(item_tags.c.tag).where(item_tags.c.tag == tag).limit(1)
            return conn.execute(found).first() is not None

        missing = [tag for tag in tags if not stored(tag)]
        # A stored tag in lower case is what "CSAR" meant, whatever the config says now.
        meant = {tag.lower() for tag in missing if tag != tag.lower() and stored(tag.lower())}
    if not missing:
        return tags
    sources = tuple(ctx.configured_sources())
    known = topic_names(ctx.app.tag_rules.text().data) | {t for s in sources for t in s.tags}
    for tag in missing:
        if tag not in known and not can_occur(tag, sources):
            raise bad_parameter("tag", unknown_tag(tag, known | meant, sources))
    return tags


def _listed(names: set[str]) -> str:
    """At most ten names, sorted: enough to spot a typo in."""
    return ", ".join(sorted(names)[:10]) + (", ..." if len(names) > 10 else "") or "none"
