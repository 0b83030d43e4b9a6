"""Tags named in aggregator.toml must exist: a topic of tags.toml, or a tag a source sets.

Why a check across files: a typo in a profile's `include_tags` ("csr" for "csar") made a
digest that was always empty, and one in `digest.topic_order` a section that never came,
with nothing said. Checked when the config is loaded (every command) and by `sources check`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import tomli

from aggregator.errors import ConfigError
from aggregator.models import OrgKind, Source, SourceKind
from aggregator.settings.app import SETTINGS_FILE, Settings
from aggregator.settings.tomlfile import KeyLines, Loc


def topic_names(rules_text: bytes | None) -> frozenset[str]:
    """The topic tags a tags file defines (`[tag.<name>]`); none without a file. The file is
    validated elsewhere (rules_loader): here, an unreadable one defines nothing."""
    if rules_text is None:
        return frozenset()
    try:
        tables = tomli.loads(rules_text.decode("utf-8", "replace")).get("tag", {})
    except tomli.TOMLDecodeError:
        return frozenset()
    return frozenset(tables) if isinstance(tables, dict) else frozenset()


def check_tag_references(
    settings: Settings, sources: Iterable[Source], topics: frozenset[str]
) -> None:
    """Raise a ConfigError naming the first tag of aggregator.toml that nothing defines."""
    sources = tuple(sources)
    known = topics | {tag for source in sources for tag in source.tags}
    named: list[tuple[Loc, str]] = [
        (("digest", "topic_order", i), tag) for i, tag in enumerate(settings.digest.topic_order)
    ]
    for profile in settings.digest.profiles:
        for key in ("include_tags", "exclude_tags"):
            tags: Sequence[str] = getattr(profile, key)
            named += [
                (("digest", "profiles", profile.name, key, i), tag) for i, tag in enumerate(tags)
            ]
    unknown = [
        (loc, tag)
        for loc, tag in named
        if tag not in known and not (loc[-2] != "topic_order" and can_occur(tag, sources))
    ]
    if not unknown:
        return
    loc, tag = unknown[0]
    path = settings.config_dir / SETTINGS_FILE
    try:
        line = KeyLines(path.read_text(encoding="utf-8-sig")).line_of(loc)
    except (OSError, UnicodeDecodeError):
        line = None
    message = unknown_tag(tag, known, sources)
    others = [other for _, other in unknown[1:]]
    more = f"and {len(others)} more: {', '.join(map(repr, others))}" if others else None
    raise ConfigError(
        str(path),
        message,
        line=line,
        key=".".join(str(part) for part in loc[:-1]) + f"[{loc[-1]}]",
        expected="a topic defined in tags.toml, or a tag a source sets (`tags = [...]`)"
        + ("" if loc[-2] == "topic_order" else "; or an automatic tag such as 'lang:de'"),
        more=more,
    )


def unknown_tag(tag: str, known: Iterable[str], sources: Sequence[Source]) -> str:
    """ "unknown tag 'X'", and the known one it may be a typo of ("; did you mean 'x'?")."""
    message = f"unknown tag {tag!r}"
    close = difflib.get_close_matches(tag, sorted(known), n=1, cutoff=0.6)
    if tag != tag.lower() and (tag.lower() in known or can_occur(tag.lower(), sources)):
        close = [tag.lower()]  # "country:DE", "DMA": tags are in lower case
    meant = _procedure_meant(tag)
    if meant is not None and can_occur(meant, sources):
        close = [meant]  # "procedure:2025/0260(cod)": the reference as tags write it
    if close:
        message += f"; did you mean {close[0]!r}?"
    return message


def _procedure_meant(tag: str) -> str | None:
    """The procedure tag `tag` is another spelling of ("procedure:2025 / 0260 (cod)" ->
    "procedure:2025/0260(COD)"), else None."""
    family, _, value = tag.partition(":")
    if family.strip().lower() != "procedure":
        return None
    from aggregator.tag.auto import procedure_references

    found = procedure_references([value])
    return f"procedure:{found[0]}" if len(found) == 1 else None


def can_occur(tag: str, sources: Sequence[Source]) -> bool:
    """Whether an automatic tag (tag/auto.py) can occur: of a known organisation kind, source
    kind, language or source, of a configured institution or country; a procedure reference
    as tags write it ("procedure:2022/0155(COD)"), a stage or an event kind of procedure
    files, the status "completed"."""
    # Imported here: only a profile naming an automatic tag pays for them (the language
    # detector's tables, the tagger) when the config is read.
    from aggregator.codes import LANGUAGE_CODES
    from aggregator.tag.auto import procedure_references, slug

    family, _, value = tag.partition(":")
    if family == "org":
        return value in {kind.value for kind in OrgKind}
    if family == "kind":
        return value in {kind.value for kind in SourceKind}
    if family == "lang":
        return value in LANGUAGE_CODES
    if family == "source":
        return any(source.id == value for source in sources)
    if family == "institution":
        return any(source.institution and slug(source.institution) == value for source in sources)
    if family == "country":
        return any((source.country or "").strip().lower() == value for source in sources)
    if family == "procedure":
        return procedure_references([value]) == (value,)
    if family in ("stage", "event"):
        # The parsers' package (~0.1 s): only for a profile that names one of these.
        from aggregator.parse.procedure_events import EVENT_KINDS, STAGES, stage_tag

        if family == "stage":
            return tag in {stage_tag(code) for code in STAGES}
        return value in {kind.kind for kind in EVENT_KINDS}
    return family == "status" and value == "completed"
