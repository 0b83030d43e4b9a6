"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the API returns has this shape: ``type``, ``title``, ``status``, ``detail``,
and for a bad request parameter ``parameter`` (its name) plus ``errors`` (one entry per
wrong parameter). A bad parameter is always a 4xx naming it, never a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from aggregator.errors import StoreError

log = logging.getLogger("aggregator.api")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:aggregator:problem:"


class ParameterError(BaseModel):
    parameter: str = Field(description="Name of the parameter")
    location: str = Field(description="query, path or header")
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI naming the kind of problem; about:blank for plain HTTP")
    title: str
    status: int
    detail: str
    parameter: str | None = Field(default=None, description="The first invalid parameter")
    errors: list[ParameterError] | None = None
    now_in: list[int] | None = Field(
        default=None,
        description="A cluster id that names no cluster now: the clusters the items a recent "
        "digest listed under it are in now (a merge gives up the younger clusters' ids)",
    )


class ProblemError(Exception):
    """Raised by routes; rendered as a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        kind: str | None = None,
        parameter: str | None = None,
        location: str = "query",
        reason: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.extra = extra  # members of the problem beyond RFC 9457's (`Problem` allows them)
        self.reason = reason or detail  # what is wrong with `parameter`, without its name
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind
        self.parameter = parameter
        self.location = location
        self.headers = headers


def bad_parameter(parameter: str, detail: str, *, location: str = "query") -> ProblemError:
    return ProblemError(
        422,
        "Invalid parameter",
        f"{parameter}: {detail}",
        kind="invalid-parameter",
        parameter=parameter,
        location=location,
        reason=detail,
    )


def not_found(what: str) -> ProblemError:
    return ProblemError(404, "Not found", f"{what} does not exist", kind="not-found")


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    kind: str | None = None,
    errors: list[ParameterError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        **(extra or {}),
        "type": TYPE_BASE + kind if kind else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["parameter"] = errors[0].parameter
        body["errors"] = [e.model_dump() for e in errors]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# OpenAPI `responses=` entries: the problem schema under its own media type.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        401: "Missing or wrong bearer token",
        403: "The endpoint is disabled",
        404: "No such resource",
        406: "Not acceptable",
        422: "A parameter is invalid; `parameter` names it",
        503: "The store cannot be reached",
    }
    return {
        status: {
            "model": Problem,
            "description": descriptions.get(status, "Problem"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def _location_and_name(loc: tuple[Any, ...] | list[Any]) -> tuple[str, str]:
    location = str(loc[0]) if loc else "query"
    name = str(loc[1]) if len(loc) > 1 else location
    return location, name


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        location, name = _location_and_name(error.get("loc", ()))
        errors.append(ParameterError(parameter=name, location=location, detail=error["msg"]))
    detail = "; ".join(f"{e.parameter}: {e.detail}" for e in errors) or "invalid request"
    return problem_response(
        422, "Invalid parameter", detail, kind="invalid-parameter", errors=errors
    )


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    errors = None
    if exc.parameter is not None:
        errors = [ParameterError(parameter=exc.parameter, location=exc.location, detail=exc.reason)]
    return problem_response(
        exc.status,
        exc.title,
        exc.detail,
        kind=exc.kind,
        errors=errors,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405 and headers is not None:
        headers = _allow_with_head(headers)
    return problem_response(exc.status_code, title, str(exc.detail), headers=headers)


def _allow_with_head(headers: dict[str, str]) -> dict[str, str]:
    """A 405's Allow as it is: FastAPI's GET routes list only GET, but every GET route
    answers HEAD too (head.py), and RFC 9110 10.2.1 has Allow list what is supported."""
    name = next((n for n in headers if n.lower() == "allow"), None)
    if name is None:
        return headers
    methods = [m.strip() for m in headers[name].split(",") if m.strip()]
    if "GET" in methods and "HEAD" not in methods:
        methods.insert(methods.index("GET") + 1, "HEAD")
    return {**headers, name: ", ".join(methods)}


async def _store(request: Request, exc: Exception) -> JSONResponse:
    # The routes read through the engine directly, so SQLAlchemy's errors arrive unwrapped;
    # the message may hold statement text, so it is logged, not sent.
    log.error("store error on %s: %s", request.url.path, exc, exc_info=exc)
    return problem_response(
        503, "Store unavailable", "the database could not be read", kind="store-unavailable"
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(StoreError, _store)
    app.add_exception_handler(SQLAlchemyError, _store)
