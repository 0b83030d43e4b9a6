"""Full-text search: one query language, ranked, over SQLite FTS5 and PostgreSQL tsvector.

The index itself is migration 0002 (see its docstring for the tokenising choice). Users
write web-search syntax, parsed here once and rendered for each database, so both give
the same answers:

    chat control            both words, anywhere in the title or text
    "chat control"          the phrase
    -encryption             without this word (needs at least one positive term)
    csam OR grooming        either side; AND binds tighter: "a b OR c" is (a AND b) OR c
    chat AND control        the same as "chat control" (AND in capitals is no word)

Words are runs of letters and digits; anything else separates them, so no user input can
reach the database as query syntax (FTS5 would raise on a stray quote or colon). PostgreSQL
also gets each term as written, as a bound value its own parser reads: that parser keeps
"v2.0", "4.5" or "edri.org/x" whole in the index, where the term's words alone ('v2' then
'0') never match. The result is a subquery of (item_id, score), higher score = better
match, to join with items.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import Connection, Float, Integer, Subquery, column, select
from sqlalchemy import text as sql_text

from aggregator.errors import AggregatorError

# Objects that migration 0002 creates outside schema.metadata: the FTS5 table (and the
# shadow tables FTS5 makes for it), its triggers, the PostgreSQL column and index.
SEARCH_TABLE_PREFIX = "items_fts"
SEARCH_COLUMN = "search_vector"
SEARCH_INDEX = "ix_items_search_vector"

MAX_TERMS = 32
# Title and text weights of the SQLite score (PostgreSQL: ts_rank's A and B weights): a hit
# in the title counts for more than one in the body.
SQLITE_WEIGHTS = (10.0, 1.0)

_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


class InvalidSearch(AggregatorError):
    """A search text that has nothing to search for (no word outside an exclusion)."""


def is_search_object(name: str | None, type_: str) -> bool:
    """Whether a reflected object belongs to the full-text index, not to schema.metadata."""
    if name is None:
        return False
    if type_ == "table":
        return name.startswith(SEARCH_TABLE_PREFIX)
    if type_ == "column":
        return name == SEARCH_COLUMN
    if type_ == "index":
        return name == SEARCH_INDEX
    return False


@dataclass(frozen=True, slots=True, kw_only=True)
class Term:
    words: tuple[str, ...]  # one word, or a phrase
    negated: bool = False
    # As the user wrote it (without the "-" and the quotes), for PostgreSQL's parser; not
    # part of what the term means, so terms of the same words are equal.
    written: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchQuery:
    """Alternatives (OR) of groups whose terms must all match (AND)."""

    groups: tuple[tuple[Term, ...], ...]
    text: str  # as the user wrote it


def parse_search(text: str) -> SearchQuery:
    """Parse web-search syntax; InvalidSearch when no positive word is left."""
    groups: list[list[Term]] = [[]]
    count = 0
    # Composed, as stored texts are (text.composed): "Zu\u0308rich" typed decomposed was two
    # words, "zu" and "rich", the accent being no word character.
    text = unicodedata.normalize("NFC", text)
    for match in _TOKEN.finditer(text):
        negated_phrase, phrase, bare = match.groups()
        if bare == "OR":
            groups.append([])
            continue
        if bare == "AND":
            # What two words side by side mean already; typed out (as Miniflux's and
            # FreshRSS's users do), it is no word to find.
            continue
        negated = bool(negated_phrase) if phrase is not None else bare.startswith("-")
        written = phrase if phrase is not None else bare[1:] if negated else bare
        words = tuple(w.lower() for w in _WORD.findall(written))
        if not words:
            continue
        count += 1
        if count > MAX_TERMS:
            raise InvalidSearch(f"too many search terms (at most {MAX_TERMS})")
        groups[-1].append(Term(words=words, negated=negated, written=written))
    # A group of exclusions only would mean "everything but": FTS5 cannot say it, and it
    # is not a search. Such groups are dropped on both databases alike.
    kept = tuple(tuple(g) for g in groups if any(not t.negated for t in g))
    if not kept:
        raise InvalidSearch(f"nothing to search for in {text!r}: give at least one word")
    return SearchQuery(groups=kept, text=text)


def fts5_expression(query: SearchQuery) -> str:
    """The FTS5 MATCH string. Every term is a double-quoted string of plain words."""

    def quoted(term: Term) -> str:
        return '"' + " ".join(term.words) + '"'

    rendered = []
    for group in query.groups:
        positive = " AND ".join(quoted(t) for t in group if not t.negated)
        negative = "".join(f" NOT {quoted(t)}" for t in group if t.negated)
        rendered.append(f"({positive}{negative})")
    return " OR ".join(rendered)


def _term_tsquery(term: Term, name: str, params: dict[str, str]) -> str:
    """One term as a tsquery: its words as a phrase (what SQLite matches), or the term as
    written, read by the parser that indexed the items: it keeps "v2.0" one lexeme, which
    the words 'v2' <-> '0' never match. Either reading matches, so "end-to-end" still
    finds "end to end", as on SQLite."""
    params[name] = " ".join(term.words)
    words = f"phraseto_tsquery('simple', :{name})"
    if not term.written or term.written.lower() == params[name]:
        return words
    params[f"{name}_w"] = term.written
    return f"({words} || phraseto_tsquery('simple', :{name}_w))"


def _tsquery_sql(query: SearchQuery, *, positive: bool = False) -> tuple[str, dict[str, str]]:
    """The tsquery as SQL: phraseto_tsquery per term (PostgreSQL's own word parser, on
    bound parameters only) combined with && (and), !! (not) and || (or). `positive`: the
    exclusions left out, for ranking: ts_rank scores a query with a !! term near zero for
    every item, so "surveillance -europol" ranked a title hit no higher than a mention."""
    params: dict[str, str] = {}
    rendered_groups = []
    for g, group in enumerate(query.groups):
        parts = []
        for t, term in enumerate(group):
            if positive and term.negated:
                continue
            part = _term_tsquery(term, f"q_{g}_{t}", params)
            parts.append(f"(!!{part})" if term.negated else part)
        rendered_groups.append("(" + " && ".join(parts) + ")")
    return " || ".join(rendered_groups), params


def _sqlite_score(query: SearchQuery) -> tuple[str, dict[str, str]]:
    """Per group of the query: 10 when its words are in the title, plus 1 when in the text.

    Not bm25: bm25 weighs terms by how rare they are in the whole index, so every stored
    item would shift the scores of the others, and a relevance-ordered cursor would skip
    or repeat items between two pages. A score that depends on the item alone keeps pages
    stable (PostgreSQL's ts_rank is also a function of the item and the query only).
    """
    parts: list[str] = []
    params: dict[str, str] = {}
    for g, group in enumerate(query.groups):
        positive = " AND ".join('"' + " ".join(t.words) + '"' for t in group if not t.negated)
        for column_name, weight in zip(("title", "text"), SQLITE_WEIGHTS, strict=True):
            name = f"fts_{column_name}_{g}"
            params[name] = f"{column_name} : ({positive})"
            parts.append(
                f"{weight} * (rowid IN (SELECT rowid FROM items_fts WHERE items_fts MATCH :{name}))"
            )
    return " + ".join(parts), params


def hits(dialect: str, query: SearchQuery) -> Subquery:
    """A subquery of matching items: columns item_id and score (higher is better)."""
    if dialect == "sqlite":
        score, params = _sqlite_score(query)
        statement = sql_text(
            f"SELECT rowid AS item_id, {score} AS score "
            "FROM items_fts WHERE items_fts MATCH :fts_query"
        ).bindparams(fts_query=fts5_expression(query), **params)
    else:
        tsquery, params = _tsquery_sql(query)
        ranked, _ = _tsquery_sql(query, positive=True)
        # ts_rank is a 4-byte real, which reaches Python as its shortest decimal (0.6079271
        # for 0.6079270839691162): a cursor's score then differed from the stored one, and
        # the next page repeated or skipped tied items. As double precision, the score in
        # the cursor is the very value the next page compares with.
        statement = sql_text(
            "SELECT id AS item_id, "
            f"CAST(ts_rank(search_vector, ({ranked})) AS double precision) AS score "
            f"FROM items WHERE search_vector @@ ({tsquery})"
        ).bindparams(**params)
    return statement.columns(column("item_id", Integer), column("score", Float)).subquery("hits")


def matching(dialect: str, query: SearchQuery) -> Subquery:
    """A subquery of the ids of matching items (column item_id), unscored: a filter for
    listings in another order, which then score only the page they show."""
    if dialect == "sqlite":
        statement = sql_text(
            "SELECT rowid AS item_id FROM items_fts WHERE items_fts MATCH :fts_query"
        ).bindparams(fts_query=fts5_expression(query))
    else:
        tsquery, params = _tsquery_sql(query)
        statement = sql_text(
            f"SELECT id AS item_id FROM items WHERE search_vector @@ ({tsquery})"
        ).bindparams(**params)
    return statement.columns(column("item_id", Integer)).subquery("matching")


def search_ids(conn: Connection, query: SearchQuery, *, limit: int = 50) -> list[tuple[int, float]]:
    """The best `limit` matches as (item id, score), best first (for tests and tools)."""
    found = hits(conn.dialect.name, query)
    rows = conn.execute(
        select(found.c.item_id, found.c.score)
        .order_by(found.c.score.desc(), found.c.item_id.desc())
        .limit(limit)
    )
    return [(int(item_id), float(score)) for item_id, score in rows]


# SQLite: the items the full-text index has yet to take in (migration 0014).
PENDING_TABLE = "items_fts_pending"
_ANY_PENDING = sql_text(f"SELECT EXISTS (SELECT 1 FROM {PENDING_TABLE})")
_INDEX_PENDING = sql_text(
    "INSERT INTO items_fts(rowid, title, text) SELECT id, title, text FROM items "
    f"WHERE id IN (SELECT item_id FROM {PENDING_TABLE}) ORDER BY id"
)
_FORGET_PENDING = sql_text(f"DELETE FROM {PENDING_TABLE}")


def index_behind(conn: Connection) -> bool:
    """Whether stored items wait for the full-text index (never on PostgreSQL, whose
    search column is written with the row)."""
    return conn.dialect.name == "sqlite" and bool(conn.execute(_ANY_PENDING).scalar_one())


def catch_up(conn: Connection) -> int:
    """Take the waiting items into the full-text index, in the write transaction of `conn`;
    returns how many. Every search comes after one (`SqlStore.catch_up_search`): the
    refresh that stores items leaves the indexing to it (migration 0014 says why)."""
    if conn.dialect.name != "sqlite":
        return 0
    indexed = conn.execute(_INDEX_PENDING).rowcount
    conn.execute(_FORGET_PENDING)
    return max(indexed, 0)
