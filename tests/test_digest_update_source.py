"""An updated entry says whose item changed: a change to another source's publication of the
story names that source, with its own old and new title, in every format (text, HTML,
Markdown, JSON), and through the API's re-rendering of the stored digest."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import httpx

from aggregator.api import create_app
from aggregator.api.digest_json import digest_from_json
from aggregator.deliver.render import (
    digest_to_json,
    render_html,
    render_json,
    render_markdown,
    render_text,
)
from aggregator.digest import Digest, ShownRevision
from aggregator.models import StoredItem
from tests.support_api import JOINT, NOW, STORIES, save, seeded_app, serving
from tests.support_digest import T0, digest_of, item

OLD = "LIBE mandate for trilogues confirmed"
NEW = "LIBE mandate for trilogues confirmed by plenary"
TEXT = "The committee mandate stands. Trilogues start next week."
ADDED = "The plenary did not object."


def words(text: str) -> str:
    """Text with its line breaks and indents folded to single spaces (wrapped lines)."""
    return " ".join(text.split())


def cluster_digest(*, member_changed: bool, primary_changed: bool) -> Digest:
    """A listing page of the Council (the primary item: an institution) and EDRi's feed carry
    one release, both shown in the last digest; then one or both changed."""
    seen = T0 - timedelta(days=2)

    def copy(item_id: int, source_id: str, changed: bool) -> StoredItem:
        return item(
            item_id,
            source_id,
            cluster_id=7,
            title=NEW if changed else OLD,
            text=f"{TEXT} {ADDED}" if changed else TEXT,
            first_seen=seen,
            last_changed=T0 + timedelta(hours=1) if changed else seen,
            revision=2 if changed else 1,
        )

    items = [copy(1, "council", primary_changed), copy(2, "edri", member_changed)]
    shown = {i: ShownRevision(revision=1, title=OLD, text=TEXT) for i in (1, 2)}
    return digest_of(items, shown=shown)


def test_a_change_of_another_sources_item_names_that_source_and_its_titles() -> None:
    digest = cluster_digest(member_changed=True, primary_changed=False)
    (entry,) = digest.entries
    assert entry.title == OLD and entry.source.source_id == "council" and entry.updated
    assert [(c.kind, c.item_id, c.source_id, c.source_name) for c in entry.changes] == [
        ("title", 2, "edri", "EDRi"),
        ("text", 2, "edri", "EDRi"),
    ]
    assert [entry.changed_by(c) for c in entry.changes] == ["EDRi", "EDRi"]

    text = words(render_text(digest))
    assert f"! EDRi changed its title, was: {OLD}; now: {NEW}" in text
    assert f"! EDRi changed its text: + {ADDED}" in text
    # Not the primary's title given as its own "old" title, as if nothing had changed.
    assert "Title changed, was:" not in text and "! Text changed" not in text

    html = render_html(digest)
    assert f"EDRi changed its title, was: “{OLD}”; now: “{NEW}”</p>" in html
    assert "EDRi changed its text:</p>" in html
    assert "Title changed" not in html

    markdown = render_markdown(digest)
    assert f"> EDRi changed its title, was: {OLD}; now: {NEW}\n" in markdown
    assert "> EDRi changed its text:\n\n```diff\n+ The plenary did not object.\n```" in markdown

    (title, body) = json.loads(render_json(digest))["groups"][0]["entries"][0]["changes"]
    assert title == {
        "kind": "title",
        "before": OLD,
        "after": NEW,
        "diff": "",
        "item_id": 2,
        "source_id": "edri",
        "source_name": "EDRi",
    }
    assert (body["kind"], body["item_id"], body["source_id"]) == ("text", 2, "edri")


def test_a_change_of_the_primary_item_reads_as_before() -> None:
    digest = cluster_digest(member_changed=False, primary_changed=True)
    (entry,) = digest.entries
    assert entry.title == NEW
    assert [(c.item_id, c.source_id) for c in entry.changes] == [(1, "council")] * 2
    assert [entry.changed_by(c) for c in entry.changes] == [None, None]
    text = words(render_text(digest))
    assert f"! Title changed, was: {OLD} ! Text changed: + {ADDED}" in text
    assert "changed its" not in text
    assert f"Title changed, was: “{OLD}”</p>" in render_html(digest)
    assert f"> Title changed, was: {OLD}\n" in render_markdown(digest)


def test_when_both_changed_the_primary_items_changes_come_first() -> None:
    digest = cluster_digest(member_changed=True, primary_changed=True)
    (entry,) = digest.entries
    assert [(c.kind, c.source_id) for c in entry.changes] == [
        ("title", "council"),
        ("text", "council"),
        ("title", "edri"),
        ("text", "edri"),
    ]
    text = words(render_text(digest))
    assert text.index("! Title changed, was:") < text.index("! EDRi changed its title")


def test_the_stored_json_keeps_the_source_and_old_digests_render_as_they_did() -> None:
    digest = cluster_digest(member_changed=True, primary_changed=False)
    stored = json.loads(render_json(digest))
    rebuilt = digest_from_json(stored)
    assert digest_to_json(rebuilt) == digest_to_json(digest)
    for render in (render_html, render_text, render_markdown):
        assert render(rebuilt) == render(digest)
    # A digest stored before changes named their item: read back, rendered as then.
    for change in stored["groups"][0]["entries"][0]["changes"]:
        for key in ("item_id", "source_id", "source_name"):
            del change[key]
    legacy = digest_from_json(stored)
    assert f"! Title changed, was: {OLD}" in words(render_text(legacy))


def test_an_update_of_a_cluster_member_through_the_store_and_the_api(
    tmp_path: Path, database_url: str
) -> None:
    """EDRi's copy of the joint statement (the Parliament's is the primary item) changes its
    title and gains a sentence after the first digest; the next digest, as the API serves it,
    says EDRi changed it, from what to what."""
    app = seeded_app(tmp_path, database_url)
    try:
        edri = STORIES[0]
        new_title = "Joint statement on chat control: 60 organisations sign"
        changed = dataclasses.replace(
            edri, title=new_title, text=JOINT + " Sixty organisations have signed it."
        )
        save(app, [changed], now=NOW + timedelta(hours=1))
        app.clock = lambda: NOW + timedelta(days=1)
        run = app.run_digest("daily", send=True, write_files=False)
        assert run.recorded
        (entry,) = run.digest.entries
        assert entry.source.source_id == "ep" and entry.title == edri.title
        assert {(c.kind, c.source_id) for c in entry.changes} == {
            ("title", "edri"),
            ("text", "edri"),
        }

        with serving(create_app(app)) as url, httpx.Client(base_url=url, timeout=10) as http:
            latest = http.get("/api/v1/digests/latest").json()
            changes = latest["body"]["groups"][0]["entries"][0]["changes"]
            title = next(c for c in changes if c["kind"] == "title")
            assert (title["source_id"], title["source_name"]) == ("edri", "EDRi")
            assert (title["before"], title["after"]) == (edri.title, new_title)
            text = words(http.get("/api/v1/digests/latest/text").text)
            assert f"! EDRi changed its title, was: {edri.title}; now: {new_title}" in text
            assert "! EDRi changed its text: + Sixty organisations have signed it." in text
            markdown = http.get("/api/v1/digests/latest/markdown").text
            assert "> EDRi changed its title, was: Joint statement on chat control; now:" in (
                markdown
            )
            page = http.get("/").text
            assert f"EDRi changed its title, was: “{edri.title}”; now: “{new_title}”" in page
    finally:
        app.close()
