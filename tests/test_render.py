"""Renderers: email-safe HTML, 78-column text, Markdown, documented JSON; nothing from a feed
can become markup in any of them."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

from aggregator.deliver.files import write_digest_files
from aggregator.deliver.render import (
    JSON_SCHEMA_VERSION,
    digest_to_json,
    render_html,
    render_json,
    render_markdown,
    render_text,
)
from aggregator.digest import Digest
from tests.support_digest import HOSTILE_HTML, digest_of, item, sample_digest

ROOT = Path(__file__).resolve().parent.parent
RENDERERS = {
    "html": render_html,
    "text": render_text,
    "markdown": render_markdown,
    "json": render_json,
}
URL_LINE = re.compile(r"^\s*https?://\S+$")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.style_text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style_text.append(data)


def parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def hostile_digest() -> Digest:
    return digest_of(
        [
            item(
                1,
                "edri",
                title="<b>Bold</b> <script>alert('t')</script>title",
                summary=HOSTILE_HTML,
            ),
            item(2, "council", url="javascript:alert(2)", summary=HOSTILE_HTML, cluster_id=4),
            item(3, "edri", url="data:text/html,<script>x</script>", cluster_id=4),
        ]
    )


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_feed_markup_never_reaches_any_format(fmt: str) -> None:
    out = RENDERERS[fmt](hostile_digest()).lower()
    for bad in (
        "<script",
        "<iframe",
        "onclick",
        "onmouseover",
        "javascript:",
        "data:text",
        "alert(",
        "encoded()",
        "display:none",
        "<b>",
    ):
        assert bad not in out, (fmt, bad)
    assert "council agrees position" in out  # the prose survives


def test_html_is_built_for_email_clients() -> None:
    html = render_html(sample_digest())
    doc = parse(html)
    names = [t for t, _ in doc.tags]
    assert "script" not in names and "link" not in names
    assert ("meta", [("name", "color-scheme"), ("content", "light dark")]) in doc.tags
    # Our one <style> keeps only the dark-mode rules; everything else is inlined.
    assert names.count("style") == 1
    assert "".join(doc.style_text).strip().startswith("@media (prefers-color-scheme: dark)")
    assert all(
        attrs
        for t, attrs in doc.tags
        if t in ("h1", "h2", "p", "a", "td") and ("class", "pad") in attrs
    )
    styled = [t for t, attrs in doc.tags if any(k == "style" for k, _ in attrs)]
    assert {"body", "h1", "h2", "a", "p"} <= set(styled)
    assert names.count("table") >= 3 and "div" not in names  # table layout
    hrefs = [v for _, attrs in doc.tags for k, v in attrs if k == "href"]
    assert hrefs and all(v is not None and v.startswith("https://") for v in hrefs)
    assert not [k for _, attrs in doc.tags for k, _ in attrs if k.startswith("on")]


def test_html_shows_counts_groups_updates_and_problems() -> None:
    html = render_html(sample_digest())
    assert "4 statements from 5 sources, 1 updated, 2 sources with problems" in html
    assert html.index("CSA Regulation") < html.index("Encryption") < html.index(">Other<")
    assert "UPDATED" in html and "- Scanning weakens it." in html
    assert html.index("Sources with problems") > html.index(">Other<")
    assert "failing since 2025-03-02 07:00" in html  # local time, Europe/Brussels


def test_text_lines_fit_78_columns_except_lone_urls() -> None:
    long_url = "https://example.eu/" + "a" * 120
    digest = digest_of(
        [
            item(1, "edri", title="A very long title " * 12, summary="Words " * 200, url=long_url),
            item(2, "council", title="Supercalifragilistic" * 6, tags=("csar",)),
        ]
    )
    text = render_text(digest)
    assert long_url in text
    for line in text.splitlines():
        assert cell_len(line) <= 78 or URL_LINE.match(line), line
    full = render_text(sample_digest())  # with a problem source, whose URL has its own line
    assert len(full.splitlines()) > 20
    for line in full.splitlines():
        assert cell_len(line) <= 78 or URL_LINE.match(line), line


def test_text_lines_fit_78_columns_as_a_terminal_shows_chinese_and_japanese() -> None:
    # No spaces to break at, and two columns a character: one 110-column line before.
    chinese = "欧盟理事会就打击网上儿童性虐待的条例达成立场，" * 6
    japanese = "欧州議会は児童の性的虐待に関する規則について、本会議で採決した。" * 4
    digest = digest_of(
        [
            item(1, "bbc", title=chinese[:40], summary=chinese),
            item(2, "nhk", title="欧州議会の採決", summary=japanese + " AI生成画像 CSAR"),
        ]
    )
    text = render_text(digest)
    lines = text.splitlines()
    for line in lines:
        assert cell_len(line) <= 78 or URL_LINE.match(line), (cell_len(line), line)
    flat = "".join(line.strip() for line in lines)
    assert chinese.replace("，", "") in flat.replace("，", "")  # nothing lost, only broken
    assert "AI生成画像 CSAR" in text.replace("\n", " ")
    # A comma or full stop is never the first character of a line.
    assert not any(line.strip().startswith(("，", "。")) for line in lines)


def test_text_has_every_part() -> None:
    text = render_text(sample_digest())
    assert text.startswith("daily digest, 2025-03-04\n")
    for part in (
        "CSA REGULATION",
        "Also published by:",
        "[UPDATED]",
        "SOURCES WITH PROBLEMS",
        "+ Scanning breaks it.",
        "https://example.eu/edri/1",
    ):
        assert part in text


def test_markdown_escapes_markdown_in_feed_text() -> None:
    md = render_markdown(
        digest_of(
            [
                item(
                    1,
                    "edri",
                    title="*Star* [x](https://evil.example) #1",
                    url="https://example.eu/a_(b)",
                )
            ]
        )
    )
    assert r"\*Star\* \[x\]\(https://evil.example\) \#1" in md
    assert "(https://example.eu/a_%28b%29)" in md


def test_empty_digest_says_so() -> None:
    empty = digest_of([])
    assert empty.is_empty
    for render in (render_html, render_text, render_markdown):
        assert "Nothing new in this window." in render(empty)
    assert json.loads(render_json(empty))["groups"] == []


def test_json_round_trips_and_counts() -> None:
    data = json.loads(render_json(sample_digest()))
    assert data["schema_version"] == JSON_SCHEMA_VERSION
    assert data["window"] == {"start": "2025-03-03T06:00:00Z", "end": "2025-03-04T06:00:00Z"}
    assert data["counts"] == {
        "entries": 4,
        "new_items": 5,
        "updated": 1,
        "sources": 5,
        "problems": 2,
    }
    assert [g["tag"] for g in data["groups"]] == ["csar", "encryption", "dsa", None]
    [csar] = data["groups"][0]["entries"]
    assert csar["source"]["org"] == "institution" and len(csar["others"]) == 2


def _keys(value: Any, prefix: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, sub in value.items():
            found.add(key)
            found |= _keys(sub, key)
    elif isinstance(value, list):
        for sub in value:
            found |= _keys(sub, prefix)
    return found


def test_every_json_field_is_documented() -> None:
    doc = (ROOT / "docs" / "digest-json.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", doc, re.MULTILINE))
    documented |= {d.rpartition(".")[2] for d in documented}
    assert _keys(digest_to_json(sample_digest())) <= documented
    assert f"schema version {JSON_SCHEMA_VERSION}" in doc


def test_files_are_written_per_profile_and_local_date(tmp_path: Path) -> None:
    digest = sample_digest()
    paths = write_digest_files(digest, tmp_path)
    folder = tmp_path / "digests" / "daily"
    assert paths == [folder / f"2025-03-04.{ext}" for ext in ("html", "txt", "md", "json")]
    assert json.loads(paths[3].read_text(encoding="utf-8"))["profile"] == "daily"
    assert paths[1].read_text(encoding="utf-8") == render_text(digest)
    umask = os.umask(0)
    os.umask(umask)
    assert all(p.stat().st_mode & 0o777 == 0o666 & ~umask for p in paths)  # not 0600
    assert not list(folder.glob(".*"))  # no temporary files left


def test_files_of_one_name_show_one_window(tmp_path: Path) -> None:
    earlier = sample_digest()
    write_digest_files(earlier, tmp_path, suffix="-preview")
    folder = tmp_path / "digests" / "daily"
    later = digest_of([item(9, "edri", title="Only in the later window")])
    later = dataclasses.replace(later, window_end=earlier.window_end)  # the same local date
    [path] = write_digest_files(later, tmp_path, ("json",), suffix="-preview")
    # The earlier window's html, text and markdown went: beside the new json they would
    # read as the same digest.
    assert sorted(folder.iterdir()) == [path]
    assert "Only in the later window" in path.read_text(encoding="utf-8")
    # An empty digest replaces nothing, and removes nothing either.
    write_digest_files(earlier, tmp_path)
    empty = dataclasses.replace(digest_of([]), window_end=earlier.window_end)
    assert write_digest_files(empty, tmp_path, ("json",)) == []
    assert len(list(folder.glob("2025-03-04.*"))) == 4


@pytest.mark.corpus
def test_real_edri_feed_items_render_clean(corpus: Path) -> None:
    """Real feed HTML (EDRi items, with links and entities) through every renderer."""
    path = corpus / "derived" / "openmag_parsed_items" / "european_digital_rights__edri__HEAD.json"
    raw = json.loads(path.read_text(encoding="utf-8"))[:8]
    items = [
        item(i + 1, "edri", title=entry["title"], summary=entry["content"], url=entry["link"])
        for i, entry in enumerate(raw)
    ]
    digest = digest_of(items)
    assert digest.entry_count == len(raw)
    assert {e.url for e in digest.entries} == {entry["link"] for entry in raw}
    assert all(
        e.summary and "<" not in e.summary and "&amp;" not in e.summary for e in digest.entries
    )
    for line in render_text(digest).splitlines():
        assert cell_len(line) <= 78 or URL_LINE.match(line), line
    html = render_html(digest)
    assert "<p>" not in html and "&lt;p&gt;" not in html  # feed markup is gone, not escaped
    assert render_json(digest).count('"url": "https://edri.org/') == 2 * len(raw)


def test_the_plain_text_never_breaks_a_line_at_a_no_break_space() -> None:
    from aggregator.deliver.render import wrap

    # "6 %" was broken between "6" and "%": the space was folded to a plain one when stored.
    text = (
        "Le règlement adopté par les ministres prévoit des amendes pouvant aller à 6\u00a0% du"
        " chiffre d'affaires annuel mondial."
    )
    lines = wrap(text, 78, indent="  ").split("\n")
    assert all(not line.strip().startswith("%") for line in lines)
    assert any("6\u00a0%" in line for line in lines)
    # An editor's no-break space in place of every space still lets the line break.
    glued = "\u00a0".join(["word"] * 40)
    assert all(len(line) <= 78 for line in wrap(glued, 78).split("\n"))


def test_a_stored_no_break_space_reaches_the_plain_text_digest() -> None:
    # The digest's own cleaning folded it to a plain space: "32" ended one line, "000
    # signatures" began the next.
    summary = (
        "Le chiffrement de bout en bout reste protégé, selon la présidence du Conseil. Voir"
        " 32\u00a0000 signatures."
    )
    digest = digest_of([item(1, "edri", summary=summary, text=summary)])
    text = render_text(digest)
    assert "32\u00a0000" in text
    assert not any(line.strip().startswith("000") for line in text.split("\n"))
