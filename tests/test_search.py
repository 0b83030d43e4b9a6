"""Full-text search: one query language over SQLite FTS5 and PostgreSQL tsvector."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, text

from aggregator.store import SqlStore, open_store
from aggregator.store.engine import create_store_engine
from aggregator.store.migrate import upgrade
from aggregator.store.schema import items
from aggregator.store.search import InvalidSearch, SearchQuery, Term, parse_search, search_ids
from tests.support_store import T0, make_item, make_source
from tests.support_store import save_to_src as save

CORPUS = {
    "title-hit": ("Encryption under attack", "A plain body about policy."),
    "text-hit": ("Weekly roundup", "This week: encryption, grooming and the Council."),
    "phrase": ("Chat control vote", "The chat control proposal returns."),
    "scattered": ("Control of chat apps", "Nothing else here."),
    "german": ("Chatkontrolle: Übereinkommen vertagt", "Der Rat vertagt die Abstimmung."),
}


@pytest.fixture()
def store(database_url: str) -> Iterator[SqlStore]:
    opened = open_store(database_url)
    opened.sync_sources([make_source("src")], now=T0)
    save(opened, [make_item("src", k, title=t, text=x) for k, (t, x) in CORPUS.items()])
    try:
        yield opened
    finally:
        opened.close()


def found(store: SqlStore, text: str) -> list[str]:
    identities = {i.id: i.identity for i in store.iter_items()}
    store.catch_up_search()  # as the API does before a search
    with store.engine.connect() as conn:
        return [identities[item_id] for item_id, _ in search_ids(conn, parse_search(text))]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ENCRYPTION", {"title-hit", "text-hit"}),  # case-insensitive, title or text
        ("chat control", {"phrase", "scattered"}),  # every word, anywhere
        ('"chat control"', {"phrase"}),  # the phrase
        ("chat -apps", {"phrase"}),
        ("grooming OR vertagt", {"text-hit", "german"}),
        ("chat AND control", {"phrase", "scattered"}),  # AND in capitals is no word
        ("chat and control", set()),  # in lower case it is one, found nowhere
        ("chatkontrolle", {"german"}),
        ("U\u0308bereinkommen", {"german"}),  # typed decomposed: it was "U" and "bereinkommen"
        ('"chat control', {"phrase"}),  # an unclosed quote is still a phrase
        ('chat: ( "control" )*^', {"phrase", "scattered"}),  # FTS5 syntax is just text
        ("chat NEAR control", set()),  # NEAR is a word like any other
        ("nowhere", set()),
    ],
)
def test_matches(store: SqlStore, query: str, expected: set[str]) -> None:
    assert set(found(store, query)) == expected


def test_title_hits_rank_first(store: SqlStore) -> None:
    assert found(store, "encryption") == ["title-hit", "text-hit"]
    with store.engine.connect() as conn:
        scores = [s for _, s in search_ids(conn, parse_search("encryption"))]
    assert scores[0] > scores[1] > 0


def test_title_hits_rank_first_with_an_exclusion_too(store: SqlStore) -> None:
    # PostgreSQL's ts_rank scored a query with a !! term near zero for every item: the
    # title hit no longer came first.
    assert found(store, "encryption -apps") == ["title-hit", "text-hit"]
    with store.engine.connect() as conn:
        scores = [s for _, s in search_ids(conn, parse_search("encryption -apps"))]
    assert scores[0] > scores[1] > 0.01


def test_index_follows_updates_and_deletes(store: SqlStore) -> None:
    save(store, [make_item("src", "text-hit", title="Monthly digest", text="About Europol.")], 5)
    assert found(store, "europol") == ["text-hit"]
    assert found(store, "encryption") == ["title-hit"]  # the old text is gone from the index
    assert found(store, "weekly") == []
    with store.engine.begin() as conn:
        conn.execute(delete(items).where(items.c.identity == "title-hit"))
    assert found(store, "encryption") == []


def test_items_stored_before_the_migration_are_indexed(database_url: str) -> None:
    engine = create_store_engine(database_url)
    try:
        upgrade(engine, "0001")
        # Plain SQL of the 0001 schema: today's store code writes columns added later.
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sources (id, name, kind, org, config_url, url, enabled, "
                    "consecutive_failures, ever_yielded) VALUES ('src', 'Src', 'feed', "
                    "'ngo', 'https://example.org/f', 'https://example.org/f', true, 0, false)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO items (source_id, identity, url, canonical_url, title, "
                    "summary, text, published, published_is_fallback, content_hash, "
                    "first_seen, last_changed, revision) VALUES ('src', 'early', 'u', 'u', "
                    "'Grooming report', '', 'Body.', :t, false, 'v1:x', :t, :t, 1)"
                ),
                {"t": T0},
            )
        upgrade(engine)  # 0002 indexes what is already there
        with engine.connect() as conn:
            assert len(search_ids(conn, parse_search("grooming"))) == 1
            assert search_ids(conn, parse_search("body")) != []
    finally:
        engine.dispose()


def test_parse_search() -> None:
    query = parse_search('Chat "end-to-end encryption" -scanning OR csam')
    assert query.groups == (
        (
            Term(words=("chat",)),
            Term(words=("end", "to", "end", "encryption")),
            Term(words=("scanning",), negated=True),
        ),
        (Term(words=("csam",)),),
    )
    assert isinstance(query, SearchQuery)
    for nothing in ("", "   ", "-only", '""', "OR", "!!! ???", "a OR -b OR"):
        if nothing == "a OR -b OR":
            assert parse_search(nothing).groups == ((Term(words=("a",)),),)
            continue
        with pytest.raises(InvalidSearch):
            parse_search(nothing)
    with pytest.raises(InvalidSearch, match="too many"):
        parse_search(" ".join(f"w{i}" for i in range(40)))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        query = parse_search(text)
    except InvalidSearch:
        return
    # Every rendered word is letters and digits only: nothing reaches FTS5 as syntax.
    for group in query.groups:
        assert any(not t.negated for t in group)
        for term in group:
            assert all(word.isalnum() for word in term.words)
