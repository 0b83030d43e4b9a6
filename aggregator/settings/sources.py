"""sources.toml: one `[[source]]` table per source, validated into `Source` records."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from aggregator.errors import ConfigError
from aggregator.local_time import source_zone
from aggregator.models import OrgKind, Selectors, Source, SourceKind
from aggregator.settings.checks import (
    Boolean,
    Country,
    CssSelector,
    ItemSelector,
    Language,
    NonEmpty,
    ProcedureReference,
    Slug,
    SourceInterval,
    TagName,
    TimeZoneName,
    Url,
)
from aggregator.settings.report import MORE_PROBLEMS_SHOWN, describe, dotted, more_problems
from aggregator.settings.tomlfile import Loc, TomlFile, is_absent, read_toml
from aggregator.urls import canonical_url, mask_password

SOURCES_FILE = "sources.toml"
DEFAULT_INTERVAL = timedelta(hours=1)


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Selectors(_Table):
    item: ItemSelector
    title: CssSelector
    link: CssSelector
    date: CssSelector | None = None
    summary: CssSelector | None = None


class _Source(_Table):
    id: Slug
    name: NonEmpty
    url: Url
    kind: SourceKind
    org: OrgKind
    country: Country | None = None
    institution: NonEmpty | None = None
    language: Language | None = None
    timezone: TimeZoneName | None = None  # of dates without an offset; None: see local_time
    interval: SourceInterval | None = None  # None: the [defaults] interval
    enabled: Boolean = True
    verified: Boolean = True
    tags: tuple[TagName, ...] = ()
    reference: ProcedureReference | None = None
    selectors: _Selectors | None = None

    @field_validator("url", mode="before")
    @classmethod
    def _file_url_with_one_slash(cls, value: object) -> object:
        # RFC 8089 also writes a local file's URL with one slash, file:/path (as Python's
        # urlunsplit does): the same URL as file:///path, which is how it is checked, stored
        # and compared from here on.
        if isinstance(value, str) and value[:6].lower() == "file:/" and value[6:7] != "/":
            return f"file:///{value[6:]}"
        return value

    @field_validator("selectors", mode="wrap")
    @classmethod
    def _selectors_of_html_only(
        cls, value: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> _Selectors | None:
        # A feed source with a selectors table is told that selectors are for html sources
        # (_kind_rules), not that its table misses `title` and `link`.
        kind = info.data.get("kind")
        if kind is not None and kind is not SourceKind.HTML and isinstance(value, dict):
            return _Selectors.model_construct(**value)
        result: _Selectors | None = handler(value)
        return result


class _Defaults(_Table):
    interval: SourceInterval = DEFAULT_INTERVAL
    timezone: TimeZoneName | None = None


class SourcesFile(_Table):
    """The whole of sources.toml."""

    defaults: _Defaults = Field(default_factory=_Defaults)
    source: tuple[_Source, ...] = ()


_PROCEDURE_PATH = re.compile(r"/procedures/(\d{4})-(\d{4})(?=[/?#]|$)")


def _procedure_in_url(url: str) -> str | None:
    """The procedure an Open Data API url names ("…/procedures/2022-0155?…": "2022/0155")."""
    found = _PROCEDURE_PATH.search(url)
    return f"{found[1]}/{found[2]}" if found else None


def _kind_rules(source: _Source) -> tuple[str, str, str] | None:
    """(key, problem, expectation) when a field does not fit the source's kind."""
    if source.kind is SourceKind.HTML and source.selectors is None:
        return (
            "selectors",
            f"html source {source.id!r} has no selectors",
            "a [source.selectors] table with item, title and link",
        )
    if source.kind is not SourceKind.HTML and source.selectors is not None:
        return (
            "selectors",
            f"selectors are only read for html sources, not {source.kind}",
            'no [source.selectors] table, or kind = "html"',
        )
    if source.kind is SourceKind.EP_PROCEDURE and source.reference is None:
        named = _procedure_in_url(source.url)
        return (
            "reference",
            f"ep-procedure source {source.id!r} has no reference",
            # The procedure its url names, when it names one (its type is not in the url).
            f"reference = '{named}(COD)', or the type the procedure has"
            if named
            else "reference = '2021/0106(COD)'",
        )
    named = _procedure_in_url(source.url) if source.kind is SourceKind.EP_PROCEDURE else None
    if named is not None and source.reference is not None and named != source.reference[:9]:
        # A copied entry whose url still names the procedure it came from: that one's events
        # would be read as this reference's.
        return (
            "url",
            f"the url names procedure {named}, the reference {source.reference}",
            "a url and reference of one procedure (…/procedures/YYYY-NNNN for YYYY/NNNN(XXX))",
        )
    if source.kind is not SourceKind.EP_PROCEDURE and source.reference is not None:
        return (
            "reference",
            f"reference is only read for ep-procedure sources, not {source.kind}",
            'no reference, or kind = "ep-procedure"',
        )
    return None


@dataclass(frozen=True, slots=True)
class _Problem:
    line: int  # 0 when unknown
    loc: Loc
    problem: str
    expected: str | None


def _rule_problems(
    file: TomlFile, sources: Sequence[tuple[int, _Source]], ids: Sequence[tuple[int, str]]
) -> list[_Problem]:
    """What each valid source's kind rules refuse (`_kind_rules`), and every id used twice
    (`ids`: index and id of each source that has one). Lines are looked up only here:
    scanning the file for them costs as much as parsing it, and a valid file never needs
    them."""
    found: list[_Problem] = []
    for index, source in sources:
        rule = _kind_rules(source)
        if rule:
            key, problem, expected = rule
            loc: Loc = ("source", index, key)
            found.append(_Problem(file.lines.line_of(loc) or 0, loc, problem, expected or None))
    first: dict[str, int] = {}  # source id -> index of the first source with it
    for index, source_id in ids:
        earlier = first.setdefault(source_id, index)
        if earlier != index:
            first_line = file.lines.line_of(("source", earlier, "id"))
            loc = ("source", index, "id")
            found.append(
                _Problem(
                    file.lines.line_of(loc) or 0,
                    loc,
                    f"duplicate source id {source_id!r}, first used on line {first_line}",
                    "an id used by one source only",
                )
            )
    return found


def _check(file: TomlFile, model: SourcesFile) -> None:
    problems = _rule_problems(
        file,
        list(enumerate(model.source)),
        [(index, source.id) for index, source in enumerate(model.source)],
    )
    if problems:
        raise _config_error(file, problems)


def _with_rule_problems(file: TomlFile, exc: ValidationError) -> ConfigError:
    """The file's field errors and, for the sources that are valid on their own, what
    their kind rules refuse and the ids used twice: every problem in one run, where the
    rules were checked only once every field was right, one kind of problem per run."""
    problems = [
        _Problem(
            file.lines.line_of(tuple(error["loc"])) or 0,
            tuple(error["loc"]),
            *describe(error, SourcesFile),
        )
        for error in exc.errors(include_url=False)
    ]
    raw = file.data.get("source") if isinstance(file.data, dict) else None
    entries = list(enumerate(raw)) if isinstance(raw, list) else []
    valid: list[tuple[int, _Source]] = []
    for index, entry in entries:
        try:
            valid.append((index, _Source.model_validate(entry)))
        except ValidationError:
            continue  # its own errors are among the file's
    ids = [
        (index, entry["id"])
        for index, entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("id"), str)
    ]
    problems += _rule_problems(file, valid, ids)
    return _config_error(file, problems)


def _config_error(file: TomlFile, problems: Sequence[_Problem]) -> ConfigError:
    """The first problem by line, and the others in `more`, as `to_config_error` says them."""
    first, *others = sorted(problems, key=lambda p: p.line)
    shown = [
        (f"line {p.line}, " if p.line else "")
        + f"{dotted(p.loc)}: {p.problem}"
        + (f" (expected {p.expected})" if p.expected else "")
        for p in others[:MORE_PROBLEMS_SHOWN]
    ]
    more = more_problems(shown, len(others))
    return ConfigError(
        file.name,
        first.problem,
        line=first.line or None,
        key=dotted(first.loc),
        expected=first.expected,
        more=more,
    )


def _record(source: _Source, defaults: _Defaults) -> Source:
    selectors = source.selectors
    return Source(
        id=source.id,
        name=source.name,
        url=source.url,
        kind=source.kind,
        org=source.org,
        country=source.country,
        institution=source.institution,
        language=source.language,
        timezone=source_zone(source.timezone, defaults.timezone, source.country),
        interval=source.interval or defaults.interval,
        enabled=source.enabled,
        verified=source.verified,
        selectors=Selectors(**selectors.model_dump()) if selectors else None,
        tags=source.tags,
        reference=source.reference,
    )


def _warnings(file: TomlFile, model: SourcesFile) -> tuple[str, ...]:
    """What loads but is likely a mistake: no source at all, or two sources of one URL (as
    the store compares URLs, `canonical_url`): the one document fetched twice, and its items
    stored as each source's. Warnings, not errors: a page read with two sets of selectors
    is a choice someone may make."""
    if not model.source:
        return (f"{file.name}: no sources configured (no [[source]] table): nothing to refresh",)

    found: list[str] = []
    for index, earlier in _same_urls([source.url for source in model.source]):
        # Lines only now, as for errors: scanning the file costs as much as parsing it.
        source, other = model.source[index], model.source[earlier]
        line = file.lines.line_of(("source", index, "url"))
        other_line = file.lines.line_of(("source", earlier, "url"))
        found.append(
            f"{file.name}:{line}: {dotted(('source', index, 'url'))}: source {source.id!r} has"
            f" the URL of source {other.id!r} (line {other_line}): {mask_password(source.url)};"
            " the same"
            " document is fetched for both"
        )
    return tuple(found)


def _compared(url: str) -> str:
    """What `_same_urls` compares: the canonical URL; for a file, the path it names
    (`file:///tmp/he%69se.atom` and `file:///tmp/./heise.atom` are one file)."""
    if url[:5].lower() != "file:":
        return canonical_url(url)
    path = posixpath.normpath(unquote(urlsplit(url).path))
    return f"file://{path}"


def _same_urls(urls: list[str]) -> list[tuple[int, int]]:
    """(index, index of the first URL it is canonically the same as), in index order. Only
    URLs of one host are compared: `canonical_url` costs ~15 us, half as much again as
    loading a 1,000-source file, where a host costs ~1 us and equal URLs have equal hosts."""
    by_host: dict[str, list[int]] = {}
    for index, url in enumerate(urls):
        by_host.setdefault(_host_of(url), []).append(index)
    pairs: list[tuple[int, int]] = []
    for indexes in by_host.values():
        first: dict[str, int] = {}  # canonical URL -> its first index
        for index in indexes if len(indexes) > 1 else ():
            earlier = first.setdefault(_compared(urls[index]), index)
            if earlier != index:
                pairs.append((index, earlier))
    return sorted(pairs)


def _host_of(url: str) -> str:
    """The host as `canonical_url` spells it (lower case, no final dot, IDNA's ASCII)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    if not host.isascii():
        host = urlsplit(canonical_url(url)).hostname or host
    if url[:5].lower() == "file:" and host == "localhost":
        return ""  # RFC 8089: file://localhost/path is file:///path
    return host.rstrip(".")


@dataclass(frozen=True, slots=True)
class LoadedSources:
    sources: tuple[Source, ...]
    warnings: tuple[str, ...]  # each "file:line: key: what", for the operator


def read_sources(config_dir: Path) -> LoadedSources:
    """`load_sources`, with what loads but looks wrong (`_warnings`): said by `sources check`
    and logged by the commands that open the app."""
    file, model = _validated(config_dir)
    sources = tuple(_record(source, model.defaults) for source in model.source)
    return LoadedSources(sources, _warnings(file, model))


def load_sources(config_dir: Path) -> tuple[Source, ...]:
    """Read config_dir/sources.toml; every problem is a ConfigError with file and line."""
    _, model = _validated(config_dir)
    return tuple(_record(source, model.defaults) for source in model.source)


def _validated(config_dir: Path) -> tuple[TomlFile, SourcesFile]:
    path = config_dir / SOURCES_FILE
    if not config_dir.is_dir():
        raise ConfigError(
            str(config_dir),
            "not a folder" if config_dir.exists() else "config folder not found",
            expected="a folder with sources.toml (--config DIR or AGGREGATOR_CONFIG)",
        )
    if is_absent(path):
        raise ConfigError(
            str(path), "file not found", expected="a sources.toml with [[source]] tables"
        )
    file = read_toml(path)
    try:
        model = SourcesFile.model_validate(file.data)
    except ValidationError as exc:
        raise _with_rule_problems(file, exc) from exc
    _check(file, model)
    return file, model
