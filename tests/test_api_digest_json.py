"""A stored digest's JSON rebuilds the digest: the API's HTML is the email's HTML."""

from __future__ import annotations

import json

import pytest

from aggregator.api.digest_json import digest_from_json
from aggregator.deliver.render import (
    digest_to_json,
    render_html,
    render_json,
    render_markdown,
    render_text,
)
from aggregator.errors import StoreError
from tests.support_digest import sample_digest
from tests.test_digest_procedures import sample as procedures_sample


def test_round_trip_renders_identically() -> None:
    digest = sample_digest()
    stored = json.loads(render_json(digest))  # what the digests table keeps
    rebuilt = digest_from_json(stored)
    assert digest_to_json(rebuilt) == digest_to_json(digest)
    assert rebuilt.problems and rebuilt.entries  # the sample exercises every part
    assert any(e.changes for e in rebuilt.entries) and any(e.others for e in rebuilt.entries)
    for render in (render_html, render_text, render_markdown):
        assert render(rebuilt) == render(digest)


def test_procedures_round_trip_so_the_api_renders_them_as_the_email_did() -> None:
    digest = procedures_sample()
    rebuilt = digest_from_json(json.loads(render_json(digest)))
    assert rebuilt.procedures and rebuilt.procedure_event_count == 2
    assert digest_to_json(rebuilt) == digest_to_json(digest)
    for render in (render_html, render_text, render_markdown):
        assert render(rebuilt) == render(digest)


def test_a_digest_stored_before_changes_named_their_item_still_reads() -> None:
    stored = json.loads(render_json(sample_digest()))
    for group in stored["groups"]:
        for entry in group["entries"]:
            for change in entry["changes"]:
                for key in ("item_id", "source_id", "source_name"):
                    del change[key]
    del stored["procedures"]
    rebuilt = digest_from_json(stored)
    assert render_text(rebuilt) == render_text(sample_digest())


@pytest.mark.parametrize("body", [{}, {"profile": "daily"}, {"window": "x", "groups": []}])
def test_json_that_is_not_a_digest_is_a_store_error(body: dict[str, object]) -> None:
    with pytest.raises(StoreError, match="not a digest"):
        digest_from_json(body)
