"""The parse workers' side of the process boundary: what the refreshing process sends them
(`start_worker`, `prepare_in_worker`) and gets back (`Prepared`).

Importable without the CPU stages: the refreshing process refers to these functions and
unpickles `Prepared` results, and importing `aggregator.prepare` there (the parsers, the
tagger) would cost it ~15 MiB and ~0.2 s for code that runs only in the workers.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from functools import cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from aggregator.models import Fetched, Item, Source

if TYPE_CHECKING:
    from aggregator.dedupe.records import Fingerprint
    from aggregator.rules_loader import RulesText
    from aggregator.tag import TagRules


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    """What the CPU stages made of one fetched document."""

    items: tuple[Item, ...]
    seen: int
    warnings: tuple[str, ...]
    ttl: timedelta | None
    # Dedupe fingerprints of the items the store will write (new or changed), by identity:
    # computed here, in a worker, so the single store writer does not have to.
    fingerprints: Mapping[str, Fingerprint] = field(default_factory=dict)
    # seconds: parse, normalise, tag, fingerprint
    cpu: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def __reduce__(self) -> tuple[Callable[..., Prepared], tuple[object, ...]]:
        """Pickled with its items and fingerprints as tuples of their fields' values: a worker
        sends back thousands of them a refresh, and pickle's way with a slots dataclass calls
        Python twice per object (its fields listed, then read one by one), on both sides,
        the refreshing process's unpickling thread holding the GIL its event loop needs."""
        return _prepared_from, (
            list(map(_ITEM.values, self.items)),
            self.seen,
            self.warnings,
            self.ttl,
            [(key, *_fingerprint_values(made)) for key, made in self.fingerprints.items()],
            self.cpu,
        )


class _FieldValues:
    """A slots dataclass's field values as one tuple (read in C), and the object again, made as
    unpickling makes it: not through __init__, each field's slot set on a new object (through
    the slot's own descriptor: what object.__setattr__ looks up, found once)."""

    __slots__ = ("_cls", "_setters", "values")

    def __init__(self, cls: type[Any]) -> None:
        names = tuple(found.name for found in fields(cls))
        self._cls: Any = cls
        self._setters: tuple[Callable[[object, object], None], ...] = tuple(
            vars(cls)[name].__set__ for name in names
        )
        self.values: Callable[[Any], tuple[Any, ...]] = attrgetter(*names)

    def make(self, values: Iterable[object]) -> Any:
        made = self._cls.__new__(self._cls)
        for setter, value in zip(self._setters, values, strict=True):
            setter(made, value)
        return made


_ITEM = _FieldValues(Item)


@cache
def _fingerprint_fields() -> tuple[_FieldValues, _FieldValues]:
    """Fingerprint's and ProcedureSide's (imported when first pickled or unpickled: not by
    a process that never meets one)."""
    from aggregator.dedupe.procedure_rule import ProcedureSide
    from aggregator.dedupe.records import Fingerprint

    if fields(Fingerprint)[-1].name != "procedure":
        raise TypeError("_fingerprint_values takes Fingerprint.procedure for its last field")
    return _FieldValues(Fingerprint), _FieldValues(ProcedureSide)


def _fingerprint_values(made: Fingerprint) -> tuple[object, ...]:
    """A fingerprint's field values, its `procedure` (the last field) as its own values."""
    fingerprint, procedure = _fingerprint_fields()
    *values, side = fingerprint.values(made)
    return (*values, procedure.values(side))


def _prepared_from(
    items: list[tuple[object, ...]],
    seen: int,
    warnings: tuple[str, ...],
    ttl: timedelta | None,
    fingerprints: list[tuple[Any, ...]],
    cpu: tuple[float, float, float, float],
) -> Prepared:
    """`Prepared.__reduce__` undone."""
    made: dict[str, Fingerprint] = {}
    if fingerprints:
        fingerprint, procedure = _fingerprint_fields()
        for key, *values, side in fingerprints:
            made[key] = fingerprint.make((*values, procedure.make(side)))
    return Prepared(
        items=tuple(map(_ITEM.make, items)),
        seen=seen,
        warnings=warnings,
        ttl=ttl,
        fingerprints=made,
        cpu=cpu,
    )


# The tag rules of a worker process, compiled once when it starts (`start_worker`): sent
# with every document instead, unpickling them (~80 ms: compiled patterns) cost more than
# parsing.
_worker_rules: TagRules | None = None


def start_worker(rules: RulesText) -> None:
    """A worker process's initializer: load the CPU stages, compile the rules."""
    global _worker_rules
    # Ctrl-C goes to the whole process group: the refreshing process stops the workers
    # itself; a worker's own KeyboardInterrupt only printed a traceback among its lines.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _leave_with_parent()
    import aggregator.prepare  # noqa: F401  (the stages, loaded before the first document)

    _worker_rules = rules.compile()


def _leave_with_parent() -> None:
    """Exit once the refreshing process is gone (killed with -9, say): a worker waiting for
    documents that will never come, or blocked writing a result no one reads, would
    otherwise stay, adopted by init, for good.

    multiprocessing hands every worker a sentinel of the process that started it (through
    the forkserver too): a pipe end that reads as closed once that process is gone, also
    when it was gone before this worker got here. Watching the worker's own parent id
    missed that case: a refresh killed while its worker was loading the stages left the
    worker and its resource tracker running."""
    parent = multiprocessing.parent_process()
    if parent is None:  # not a multiprocessing worker (called directly, in a test)
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def prepare_in_worker(
    source: Source, fetched: Fetched, now: datetime, known: Mapping[str, str]
) -> Prepared:
    from aggregator.prepare import prepare

    if _worker_rules is None:
        raise RuntimeError("worker process started without start_worker")
    return prepare(source, fetched, now, _worker_rules, known)
