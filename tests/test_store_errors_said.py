"""SQLite's errors an operator can act on are said in an operator's words, the driver's kept
after them (`store.engine.describe`): met on real SQLite files, locked or read-only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from aggregator.store.engine import describe


def _error_of(url: str, statement: str) -> sa.exc.SQLAlchemyError:
    engine = sa.create_engine(url, connect_args={"timeout": 0})
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(statement)
    except sa.exc.SQLAlchemyError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError("the statement did not fail")


def test_a_store_another_process_holds_is_said_to_be_locked(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        said = describe(_error_of(f"sqlite:///{path}", "INSERT INTO t VALUES (1)"))
    finally:
        holder.close()
    assert said == (
        "another process holds the store's write lock (waited 30 s for it)"
        " (OperationalError: database is locked)"
    )


def test_a_store_that_cannot_be_written_is_said_so(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    said = describe(_error_of(url, "INSERT INTO t VALUES (1)"))
    assert said == (
        "the store file or its folder cannot be written"
        " (OperationalError: attempt to write a readonly database)"
    )


@pytest.mark.parametrize("statement", ["SELECT * FROM missing"])
def test_other_errors_keep_the_driver_s_words_alone(tmp_path: Path, statement: str) -> None:
    said = describe(_error_of(f"sqlite:///{tmp_path / 'store.sqlite'}", statement))
    assert said == "OperationalError: no such table: missing"
