"""Names a request may filter by, checked against what exists: a source id or a digest
profile that is neither configured nor stored is a mistake to name (a 422 naming the
parameter and listing what is known), not a filter that quietly matches nothing."""

from __future__ import annotations

from sqlalchemy import select

from aggregator.api.context import ApiContext
from aggregator.api.problems import bad_parameter
from aggregator.store.schema import digests


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


def _listed(names: set[str]) -> str:
    """At most ten names, sorted: enough to spot a typo in."""
    return ", ".join(sorted(names)[:10]) + (", ..." if len(names) > 10 else "") or "none"
