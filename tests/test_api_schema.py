"""Schemathesis against the OpenAPI document of a real uvicorn server, on both databases:
generated requests (valid and invalid) must never get a 5xx, and every response must match
the documented status codes, media types and schemas. Bounded: a few examples per operation
(`make schemathesis` runs more: AGGREGATOR_SCHEMATHESIS_EXAMPLES).

Valid and invalid requests are generated; the checks are "no 5xx" and "the response is
one the document describes". Whether a request is *accepted* is not checked here: a query
string has no types (`source=522` is a valid source id, though schemathesis generated it
as a number to be refused), and some rules cannot be said in JSON Schema (a `q` without a
searchable word, a `cursor` this API did not issue). test_api.py tests those rejections.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from aggregator.api import create_app
from tests.support_api import postgres_schema, seeded_app, serving

# No server error, and no response outside the document: status, media type, headers, body.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = int(os.environ.get("AGGREGATOR_SCHEMATHESIS_EXAMPLES", "12"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("schema")
    if request.param == "sqlite":
        app = seeded_app(tmp, f"sqlite:///{tmp / 'aggregator.sqlite'}")
        with serving(create_app(app)) as url:
            yield url
        app.close()
        return
    with postgres_schema(str(request.getfixturevalue("postgres_server_url"))) as database:
        app = seeded_app(tmp, database)
        with serving(create_app(app)) as url:
            yield url
        app.close()


@pytest.fixture(scope="module")
def api_schema(api_url: str) -> BaseSchema:
    return schemathesis.openapi.from_url(f"{api_url}/api/v1/openapi.json")


def run_operation(operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode) -> str | None:
    """Hypothesis over one operation; the first failure's text, or None."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report, don't minimise
    )
    def check(case: Case[Any]) -> None:
        case.call_and_validate(checks=CHECKS)

    try:
        check()
    except Unsatisfiable:  # no parameters: no invalid request to make
        assert mode is GenerationMode.NEGATIVE, operation.label
    except Exception as exc:  # a failed check: collected, so every operation is reported
        return f"{operation.label} ({mode.value}): {exc}"
    return None


def test_api_conforms_to_its_openapi_document(api_schema: BaseSchema) -> None:
    # schemathesis.pytest.from_fixture does not run under pytest 9 (it reads a private
    # attribute of pytest's nodes); the same checks run here, one operation at a time.
    operations = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the document itself is valid
        operations.append(result.ok())
    assert len(operations) >= 20  # every documented endpoint
    failures = [
        failure
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if (failure := run_operation(operation, mode)) is not None
    ]
    assert failures == [], "\n\n".join(failures)
