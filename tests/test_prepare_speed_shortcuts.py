"""The shortcuts that make the parse worker cheaper give what the long way gives.

Each is checked against the code it stands in for, on any text (Hypothesis) and on the texts
that decide between its two paths; and the work each spares is checked to be spared.
tests/test_prepare_golden.py checks the whole of `prepare` against its recording.
"""

from __future__ import annotations

import pickle
import re
import unicodedata
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator import normalise
from aggregator import urls as canonical
from aggregator.models import Fetched, Item, OrgKind, Source, SourceKind
from aggregator.parse import dates, encoding, parse_document, urls
from aggregator.parse.urls import absolute_http_url
from aggregator.prepare import prepare
from aggregator.prepare_worker import Prepared
from aggregator.tag import load_tag_rules
from aggregator.text import fold_line, fold_plain_text
from aggregator.urls import canonical_url
from bench.farm import feed_count_items, render

ROOT = Path(__file__).resolve().parent.parent

# ASCII's whitespace to str.split, and what sits beside it: the cases of the fast paths.
_SPACES = st.sampled_from([" ", "  ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1f"])
_TEXTS = st.text() | st.lists(
    _SPACES | st.sampled_from(["a", "b.", "\xa0", "\u2028", "\x00", "é"])
).map("".join)


_GLUE = "\u00a0\u202f\u2007"  # a no-break space alone between two words is kept


def _folded_line(text: str) -> str:
    """Composed (NFC); each run of whitespace one space, but a no-break space alone."""
    runs = re.split(r"(\s+)", unicodedata.normalize("NFC", text))
    kept = [r if not r.isspace() or (len(r) == 1 and r in _GLUE) else " " for r in runs]
    return "".join(kept).strip()


def _folded_plain_text(text: str) -> str:
    """fold_plain_text as it was: every line folded, at most one blank line between."""
    from aggregator.text import _CONTROL, _NO_CONTROLS

    if _CONTROL.search(text):
        text = text.translate(_NO_CONTROLS)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines: list[str] = []
    blank = False
    for line in text.split("\n"):
        folded = _folded_line(line)
        if not folded:
            blank = True
            continue
        if blank and lines:
            lines.append("")
        lines.append(folded)
        blank = False
    return "\n".join(lines)


@given(_TEXTS)
def test_fold_line_is_split_and_join(text: str) -> None:
    assert fold_line(text) == _folded_line(text)


@given(_TEXTS)
def test_fold_plain_text_is_the_line_by_line_fold(text: str) -> None:
    assert fold_plain_text(text) == _folded_plain_text(text)


@pytest.mark.parametrize(
    "text",
    ["", " ", "a", "a b", " a", "a ", "a  b", "a\tb", "a\x1cb", "a\x0bb", "a\rb", "a\nb", "é b"],
)
def test_fold_line_at_the_edges_of_its_shortcut(text: str) -> None:
    assert fold_line(text) == _folded_line(text)
    assert fold_plain_text(text) == _folded_plain_text(text)


@given(st.text() | st.lists(st.sampled_from(["a", " ", "\x00", "\x08", "\t", "\x1f"])).map("".join))
def test_clean_takes_out_the_same_controls(value: str) -> None:
    expected = value.translate(normalise._CONTROLS).strip() or None
    assert normalise._clean(value) == expected


def test_clean_pattern_finds_exactly_the_controls_it_takes_out() -> None:
    found = [code for code in range(0x110000) if normalise._ANY_CONTROL.match(chr(code))]
    assert found == sorted(normalise._CONTROLS)


# --- the work spared -------------------------------------------------------------------------

SOURCE = Source(
    id="farm-3",
    name="Farm feed 3",
    url="http://127.0.0.1/feeds/3",
    kind=SourceKind.FEED,
    org=OrgKind.PRESS,
    language="en",
)


def _farm_document(index: int) -> Fetched:
    body = render(index, feed_count_items(index), "http://127.0.0.1")
    return Fetched(url=SOURCE.url, status_code=200, content=body)


def test_a_plain_utf8_feed_is_not_searched_for_language_declarations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # They only choose between two single-byte readings; the search cost more than the rest
    # of the decoding.
    def searched(data: bytes, configured: str | None) -> tuple[str, ...]:
        raise AssertionError("language declarations searched")

    monkeypatch.setattr(encoding, "_languages", searched)
    for index in (2, 3):  # RSS, Atom
        assert parse_document(SOURCE, _farm_document(index)).items


def test_language_declarations_are_found_where_they_decide() -> None:
    # ISO-8859-1 said by the server, ISO-8859-2 by a page the source says is Polish.
    page = '<html lang="pl"><meta charset="iso-8859-2"><p>Posłowie</p></html>'
    decoded = encoding.decode(
        page.encode("iso-8859-2"), "text/html; charset=iso-8859-1", "html", language=None
    )
    assert "Posłowie" in decoded.text


def test_each_date_of_a_feed_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # fastfeed checks every date, then feed.py reads published and updated (the same text in
    # RSS, and in most Atom feeds).
    read: Counter[str] = Counter()
    clean = dates._clean

    def counted(text: str) -> str | None:
        read[text] += 1
        return clean(text)

    getattr(dates.parse_date_fast, "cache_clear", lambda: None)()  # the dates unread yet
    monkeypatch.setattr(dates, "_clean", counted)
    for index in (2, 3):
        document = parse_document(SOURCE, _farm_document(index))
        assert all(item.published for item in document.items)
    assert read and max(read.values()) == 1


@given(st.text(max_size=40) | st.sampled_from(["2026-01-01T10:00:00+02:00", "Thu, 01 Jan 2026"]))
def test_a_date_read_again_is_the_one_read_first(text: str) -> None:
    uncached = dates.parse_date_fast.__wrapped__
    assert dates.parse_date_fast(text) == uncached(text)
    assert dates.parse_date_fast(text) == uncached(text)


# --- links -----------------------------------------------------------------------------------


def _absolute_http_url_the_long_way(link: str | None, base: str | None) -> str | None:
    """absolute_http_url as it was: every link through urljoin and urlsplit."""
    if not link:
        return None
    link = link.strip()
    if not link or link.startswith("#"):
        return None
    if "\\" in link:
        link = urls._with_slashes(link, base or "")
    try:
        resolved = urljoin(base or "", link)
        parts = urlsplit(resolved)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return resolved


_URL_PIECES = st.sampled_from(
    [
        *("http://", "https://", "HTTP://", "Https://", "ftp://", "//", "http:", "https:///"),
        *("example.org", "a.b-c.EU", "xn--bcher-kva.de", "[::1]", "[v1", "u:p@host", "h", "."),
        *(":80", ":", ":x", "/", "//", "/a", "/b.html", "/../c", "/./d", "/%20", "/é", "/ä b"),
        *("?", "?q=1", "#", "#f", ";", ";p", "a;b", "\\", "\t", "\n", " ", "\x00", "&amp;"),
        *("~", "!$&'()*+,=", "@", "%", "-", "_", "0", "Z"),
    ]
)
_LINKS = st.lists(_URL_PIECES, max_size=8).map("".join) | st.text(max_size=30)
_BASES = st.none() | st.sampled_from(
    [
        "",
        "https://press.example.org/source-1/",
        "http://127.0.0.1/feeds/1",
        "https://example.org/a/b?x=1#y",
        "ftp://files.example.org/",
        "mailto:someone@example.org",
        "relative/path",
    ]
)


@given(_LINKS, _BASES)
def test_a_link_resolves_as_urljoin_and_urlsplit_resolve_it(link: str, base: str | None) -> None:
    assert absolute_http_url(link, base) == _absolute_http_url_the_long_way(link, base)


@pytest.mark.parametrize(
    "link",
    [
        "https://press.example.org/source-1/releases/00001",
        "http://a.example:8080",
        "https://example.org/a//b/../c/%7Eme/!$&'()*+,=:@",
        "https://example.org:/x",
    ],
)
def test_plain_links_take_the_shortcut_and_come_back_as_given(link: str) -> None:
    assert urls._PLAIN_HTTP_URL.match(link)
    for base in (None, "", "https://example.org/", "http://example.org/", "ftp://x/"):
        assert absolute_http_url(link, base) == link == _absolute_http_url_the_long_way(link, base)


@pytest.mark.parametrize(
    "link",
    ["HTTPS://example.org/", "https://example.org/?", "https://example.org/#", "https://e.org/a;",
     "https://u@e.org/", "https://[::1]/", "https://e.org/\t", "https://e.org/é", "https://"],
)  # fmt: skip
def test_links_urlsplit_may_change_go_the_long_way(link: str) -> None:
    assert not urls._PLAIN_HTTP_URL.match(link)
    for base in (None, "https://example.org/"):
        assert absolute_http_url(link, base) == _absolute_http_url_the_long_way(link, base)


def _candidates(labels: str, segments: str) -> st.SearchStrategy[str]:
    """URLs made of host labels and path segments of these characters, some with what the
    shortcut must not take: other schemes, ports, a final "/", a query, a fragment."""
    return st.builds(
        lambda scheme, names, port, parts, tail: (
            f"{scheme}{'.'.join(names)}{port}{''.join('/' + p for p in parts)}{tail}"
        ),
        st.sampled_from(["http://", "https://", "https://", "HTTPS://", "ftp://", "https:"]),
        st.lists(st.text(alphabet=labels, max_size=6), min_size=1, max_size=4),
        st.sampled_from(["", "", "", ":443", ":80", ":8080", ":", "."]),
        st.lists(st.text(alphabet=segments, max_size=6), max_size=4),
        st.sampled_from(["", "", "", "", "/", "?", "?a=1", "#", "#!x", " "]),
    )


# Mostly the characters the shortcut takes, then every kind it must leave to the long way.
_CANONICAL_CANDIDATES = _candidates("abz09-", "aZ09_~-") | _candidates(
    "abcxyzXY0189-é.", "aZ09_~-.%2Fé;:@!=+ "
)


def _canonical_the_long_way(url: str) -> str:
    stripped = url.strip()
    try:
        return canonical._canonical(stripped)
    except (ValueError, UnicodeError):
        return stripped


@given(_CANONICAL_CANDIDATES | st.text(max_size=40))
def test_canonical_url_is_the_long_ways(url: str) -> None:
    assert canonical_url(url) == _canonical_the_long_way(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://press.example.org/source-1/releases/00001",
        "http://127.0.0.1/feeds/3",
        "https://a/b",
    ],
)
def test_canonical_links_take_the_shortcut(url: str) -> None:
    assert canonical._CANONICAL_ALREADY.match(url)
    assert canonical_url(url) == url == _canonical_the_long_way(url)


# --- the results a worker sends back ---------------------------------------------------------


def _prepared_farm() -> list[Prepared]:
    rules = load_tag_rules(ROOT / "config" / "tags.toml")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    found = [prepare(SOURCE, _farm_document(index), now, rules) for index in range(6)]
    first = found[0]
    # Known items: not tagged, no fingerprint; and a document without items.
    known = {item.identity: item.content_hash for item in first.items[::2]}
    found.append(prepare(SOURCE, _farm_document(0), now, rules, known))
    found.append(Prepared(items=(), seen=3, warnings=("a warning",), ttl=timedelta(minutes=5)))
    return found


def test_prepared_results_come_back_from_pickle_as_they_were() -> None:
    prepared = _prepared_farm()
    assert any(made.procedure.keys for p in prepared for made in p.fingerprints.values())
    for sent in prepared:
        back = pickle.loads(pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL))
        assert back == sent
        assert [type(item) for item in back.items] == [type(item) for item in sent.items]
        assert list(back.fingerprints) == list(sent.fingerprints)
        for key, made in back.fingerprints.items():
            assert type(made) is type(sent.fingerprints[key])
            assert type(made.procedure) is type(sent.fingerprints[key].procedure)
            assert made.procedure.keys == sent.fingerprints[key].procedure.keys


def test_prepared_results_are_pickled_without_each_objects_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pickle's way with a slots dataclass (__getstate__, __setstate__: Python, per object) cost
    # more than the rest of the pickling.
    prepared = _prepared_farm()

    def refused(self: object, *args: object) -> object:
        raise AssertionError(f"{type(self).__name__} pickled one by one")

    from aggregator.dedupe.procedure_rule import ProcedureSide
    from aggregator.dedupe.records import Fingerprint

    for cls in (Item, Fingerprint, ProcedureSide):
        monkeypatch.setattr(cls, "__getstate__", refused)
        monkeypatch.setattr(cls, "__setstate__", refused)
    for sent in prepared:
        assert pickle.loads(pickle.dumps(sent)).items == sent.items
