"""Digests: the list, the latest per profile, one by id; as JSON, HTML, text or Markdown.

The HTML is the email's HTML, re-rendered from the stored JSON with the same templates.
Every digest says what became of it (`email`: sent, pending or none; `empty`). "Latest" is
the latest as emailed: a window with nothing new is recorded only to advance the window,
and is passed over unless it was emailed (a profile with send_empty).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from aggregator.api import pagination, params
from aggregator.api.context import ApiContext, base_url, context
from aggregator.api.known import known_profile
from aggregator.api.problems import not_found, problem_responses
from aggregator.api.rendering import MEDIA_TYPES, Format, body_of, rendered
from aggregator.api.responses import cached, cached_json
from aggregator.api.schemas import DigestOut, DigestPage, digest_summary
from aggregator.store import queries
from aggregator.store.digests import digest_states, latest_shown_digest_id

router = APIRouter(prefix="/api/v1", tags=["digests"])

ProfileParam = Annotated[
    params.Text | None, Query(description="Digest profile (default: any profile)")
]
FormatPath = Annotated[Format, Path(description="html (as emailed), text or markdown")]
IdPath = Annotated[int, Path(ge=1, le=params.MAX_ID)]


def _rendered_responses() -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": "The rendered digest",
            "content": {
                media.split(";")[0]: {"schema": {"type": "string"}}
                for media in MEDIA_TYPES.values()
            },
        },
        **problem_responses(404, 422, 503),
    }


def _full(request: Request, ctx: ApiContext, row: queries.DigestRow) -> Response:
    with ctx.app.store.engine.connect() as conn:
        state = digest_states(conn, [row.id])[row.id]
    summary = digest_summary(row, state, base_url(request))
    return cached_json(request, DigestOut(**summary.model_dump(by_alias=True), body=body_of(row)))


def latest_shown(ctx: ApiContext, profile: str | None) -> queries.DigestRow | None:
    """The latest digest as emailed: with news, or emailed though empty (send_empty); the
    empty windows recorded only to advance the window are passed over."""
    with ctx.app.store.engine.connect() as conn:
        digest_id = latest_shown_digest_id(conn, profile)
        return None if digest_id is None else queries.get_digest(conn, digest_id)


def _latest(ctx: ApiContext, profile: str | None) -> queries.DigestRow:
    params.text("profile", profile)
    known_profile(ctx, profile)
    row = latest_shown(ctx, profile)
    if row is None:
        raise not_found("a digest with news" + (f" of profile {profile!r}" if profile else ""))
    return row


def _by_id(ctx: ApiContext, digest_id: int) -> queries.DigestRow:
    with ctx.app.store.engine.connect() as conn:
        row = queries.get_digest(conn, digest_id)
    if row is None:
        raise not_found(f"digest {digest_id}")
    return row


@router.get(
    "/digests",
    response_model=DigestPage,
    responses=problem_responses(422, 503),
    summary="Recorded digests, newest first",
)
def list_digests(
    request: Request,
    ctx: Annotated[ApiContext, Depends(context)],
    profile: ProfileParam = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[params.CursorText | None, Query()] = None,
) -> Response:
    params.text("profile", profile)
    known_profile(ctx, profile)
    fingerprint = pagination.fingerprint({"profile": profile})
    if cursor is not None:
        params.text("cursor", cursor)
    before = pagination.before_id(cursor, query=fingerprint)
    with ctx.app.store.engine.connect() as conn:
        rows, more = queries.list_digests(conn, profile=profile, before_id=before, limit=limit)
        states = digest_states(conn, [r.id for r in rows])
    next_cursor = pagination.next_id_cursor(
        rows[-1].id if rows else None, more=more, query=fingerprint
    )
    base = base_url(request)
    return cached_json(
        request,
        DigestPage(
            digests=[digest_summary(r, states[r.id], base) for r in rows],
            next_cursor=next_cursor,
        ),
    )


@router.get(
    "/digests/latest",
    response_model=DigestOut,
    responses=problem_responses(404, 422, 503),
    summary="The latest digest with news (or emailed) as JSON",
)
def latest_digest(
    request: Request, ctx: Annotated[ApiContext, Depends(context)], profile: ProfileParam = None
) -> Response:
    return _full(request, ctx, _latest(ctx, profile))


@router.get(
    "/digests/latest/{fmt}",
    responses=_rendered_responses(),
    response_class=Response,
    summary="The latest digest with news (or emailed) as HTML, text or Markdown",
)
def latest_digest_rendered(
    request: Request,
    ctx: Annotated[ApiContext, Depends(context)],
    fmt: FormatPath,
    profile: ProfileParam = None,
) -> Response:
    row = _latest(ctx, profile)
    return cached(request, rendered(ctx, row, fmt).encode(), MEDIA_TYPES[fmt])


@router.get(
    "/digests/{digest_id}",
    response_model=DigestOut,
    responses=problem_responses(404, 422, 503),
    summary="One digest as JSON (docs/digest-json.md)",
)
def get_digest(
    request: Request, ctx: Annotated[ApiContext, Depends(context)], digest_id: IdPath
) -> Response:
    return _full(request, ctx, _by_id(ctx, digest_id))


@router.get(
    "/digests/{digest_id}/{fmt}",
    responses=_rendered_responses(),
    response_class=Response,
    summary="One digest as HTML (as emailed), text or Markdown",
)
def get_digest_rendered(
    request: Request,
    ctx: Annotated[ApiContext, Depends(context)],
    digest_id: IdPath,
    fmt: FormatPath,
) -> Response:
    row = _by_id(ctx, digest_id)
    return cached(request, rendered(ctx, row, fmt).encode(), MEDIA_TYPES[fmt])
