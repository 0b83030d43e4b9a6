"""Turn pydantic's validation errors into one ConfigError naming file, line, key and expectation."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from aggregator.errors import ConfigError
from aggregator.settings.tomlfile import Loc, TomlFile, toml_text

_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "an array",
    "tuple_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def dotted(loc: Loc) -> str:
    """("source", 3, "selectors", "item") -> "source[3].selectors.item" (0-based, as parsed)."""
    text = ""
    for part in loc:
        if part == "[key]":  # pydantic's mark of a table's key (a profile's name) at fault
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found


def allowed_keys(model: type[BaseModel], parent: Loc) -> list[str]:
    """The keys the table at `parent` accepts, found by walking the model's field types."""
    current: list[type[BaseModel]] = [model]
    for part in parent:
        if isinstance(part, int):
            continue  # an element of an array of tables: same model
        nested: list[type[BaseModel]] = []
        for candidate in current:
            field = candidate.model_fields.get(part)
            if field is not None:
                nested.extend(_models_in(field.annotation))
        # Not a field: a name in a dict of tables (digest.profiles.<name>), same model.
        current = nested or current
    return sorted({key for candidate in current for key in candidate.model_fields})


def _field_annotation(model: type[BaseModel], loc: Loc) -> Any:
    """The declared type of the key at `loc`, or None when it is no field of the models."""
    current: list[type[BaseModel]] = [model]
    annotation: Any = None
    for part in loc:
        if isinstance(part, int):
            continue  # an element of an array of tables: same model
        fields = [c.model_fields[part] for c in current if part in c.model_fields]
        if not fields:
            return None
        annotation = fields[0].annotation
        current = _models_in(annotation)
    return annotation


def _brackets_hint(
    kind: str, loc: Loc, value: object, model: type[BaseModel]
) -> tuple[str, str] | None:
    """(problem, expectation) when a table was written with the wrong brackets: `[source]`
    for an array of tables, which pydantic calls "wrong type: {...} (expected an array)"."""
    if not loc or not isinstance(loc[-1], str):
        return None
    # As a TOML header names it: "[source.selectors]" of every source, not "source[0]...".
    name = ".".join(part for part in loc if isinstance(part, str))
    annotation = _field_annotation(model, loc)
    if annotation is None or not _models_in(annotation):
        return None
    array = typing.get_origin(annotation) in (tuple, list)
    if kind in ("list_type", "tuple_type") and isinstance(value, dict) and array:
        return (
            f"[{name}] is a single table",
            f"an array of tables: write [[{name}]] (double brackets) for each {loc[-1]}",
        )
    if kind in ("model_type", "dict_type") and isinstance(value, list):
        return (
            f"[[{name}]] is an array of tables",
            f"one table: write [{name}] (single brackets), once",
        )
    return None


def describe(error: ErrorDetails, model: type[BaseModel]) -> tuple[str, str | None]:
    """(what is wrong, what was expected) for one pydantic error."""
    kind = error["type"]
    loc = tuple(error["loc"])
    context = error.get("ctx") or {}
    value = error.get("input")
    if kind == "config":
        return error["msg"], context.get("expected")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = allowed_keys(model, loc[:-1])
        message = f"unknown key {key!r}"
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean {close[0]!r}?"
        return message, "one of " + ", ".join(allowed)
    if kind == "missing":
        return f"missing required key {loc[-1]!r}", f"a value for {loc[-1]!r}"
    # Values as the file spells them (`true`, `{ a = 1 }`), not as Python prints them.
    shown = toml_text(value)
    if kind in ("enum", "literal_error"):
        return f"invalid value {shown}", "one of " + str(context.get("expected", ""))
    if kind in ("too_short", "too_long"):
        bound = "min_length" if kind == "too_short" else "max_length"
        words = "at least" if kind == "too_short" else "at most"
        count = context.get(bound)
        return (
            f"{'too few' if kind == 'too_short' else 'too many'} values: {shown}",
            f"an array of {words} {count} value{'s' * (count != 1)}",
        )
    if kind in _TYPE_NAMES:
        hint = _brackets_hint(kind, loc, value, model)
        if hint is not None:
            return hint
        return f"wrong type: {shown}", _TYPE_NAMES[kind]
    for bound, words in (("gt", "greater than"), ("ge", "at least"), ("le", "at most")):
        if bound in context:
            return f"value {shown} is out of range", f"a number {words} {context[bound]}"
    return error["msg"], None


MORE_PROBLEMS_SHOWN = 10


def _brief(
    error: ErrorDetails, line: int, model: type[BaseModel], from_env: Mapping[Loc, str]
) -> str:
    loc = tuple(error["loc"])
    variable = next((v for env, v in from_env.items() if loc[: len(env)] == env), None)
    where = f"{variable} (environment), " if variable else f"line {line}, " if line else ""
    problem, expected = describe(error, model)
    # Each problem with what the key takes: "invalid value 'company'" alone leaves the
    # reader to guess, and one edit should fix them all.
    detail = f" (expected {expected})" if expected else ""
    return f"{where}{dotted(tuple(error['loc']))}: {problem}{detail}"


def more_problems(shown: Sequence[str], count: int) -> str | None:
    """A ConfigError's `more`: "and N more problems: " and the first MORE_PROBLEMS_SHOWN of
    them (`shown`, each "line L, key: problem (expected ...)"); None for none."""
    if not count:
        return None
    listed = [*shown[:MORE_PROBLEMS_SHOWN], *(["..."] if count > MORE_PROBLEMS_SHOWN else [])]
    return f"and {count} more problem{'s' * (count > 1)}: {'; '.join(listed)}"


def to_config_error(
    exc: ValidationError,
    file: TomlFile | None,
    filename: str,
    model: type[BaseModel],
    from_env: Mapping[Loc, str] = {},
) -> ConfigError:
    """The first error by line as a ConfigError; a bad environment value names its variable."""
    errors = exc.errors(include_url=False)

    def line(error: ErrorDetails) -> int:
        found = file.lines.line_of(tuple(error["loc"])) if file else None
        return found if found is not None else 0

    first, *others = sorted(errors, key=line)
    loc = tuple(first["loc"])
    message, expected = describe(first, model)
    # Every problem named, so that one edit fixes them all (not one per run); after the
    # first one's expectation, so that it reads as that one's.
    more = more_problems(
        [_brief(error, line(error), model, from_env) for error in others[:MORE_PROBLEMS_SHOWN]],
        len(others),
    )
    for env_loc, variable in from_env.items():
        if loc[: len(env_loc)] == env_loc:
            return ConfigError("environment", message, key=variable, expected=expected, more=more)
    return ConfigError(
        filename,
        message,
        line=file.lines.line_of(loc) if file else None,
        key=dotted(loc),
        expected=expected,
        more=more,
    )
