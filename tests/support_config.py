"""Write a config folder for a test: aggregator.toml and sources.toml pointing at local servers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_config(
    folder: Path,
    sources: Sequence[Mapping[str, Any]],
    *,
    settings: str = "",
    tags: str | None = None,
) -> Path:
    """A config folder with the given sources; `selectors` may be a mapping in a source."""
    folder.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for source in sources:
        lines.append("[[source]]")
        selectors = source.get("selectors")
        for key, value in source.items():
            if key != "selectors":
                lines.append(f"{key} = {_toml_value(value)}")
        if selectors:
            lines.append("[source.selectors]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in selectors.items())
        lines.append("")
    (folder / "sources.toml").write_text("\n".join(lines), encoding="utf-8")
    (folder / "aggregator.toml").write_text(settings, encoding="utf-8")
    if tags is not None:
        (folder / "tags.toml").write_text(tags, encoding="utf-8")
    return folder
