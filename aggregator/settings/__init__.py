"""Load and validate the config folder: aggregator.toml (settings) and sources.toml.

Every problem is a `ConfigError` naming the file, the line, the key and what was expected.
The one declared table of settings is `SETTINGS`; docs/settings.md is generated from it.

The names below are loaded when first asked for (PEP 562): the parse workers import
`aggregator.settings.tomlfile` for the tag rules, and loading the settings models with it
cost every worker pydantic (~9 MiB and ~0.1 s) for nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aggregator.settings.app import (
        ApiSettings,
        DedupeSettings,
        DigestProfile,
        DigestSettings,
        FetchSettings,
        RetentionSettings,
        ScheduleSettings,
        Settings,
        SmtpSettings,
        WorkerSettings,
        load_settings,
        resolve_config_dir,
    )
    from aggregator.settings.sources import LoadedSources, load_sources, read_sources
    from aggregator.settings.spec import SETTINGS, SettingSpec, settings_reference_markdown

_MODULE_OF = {
    **dict.fromkeys(
        (
            "ApiSettings",
            "DedupeSettings",
            "DigestProfile",
            "DigestSettings",
            "FetchSettings",
            "RetentionSettings",
            "ScheduleSettings",
            "Settings",
            "SmtpSettings",
            "WorkerSettings",
            "load_settings",
            "resolve_config_dir",
        ),
        "aggregator.settings.app",
    ),
    **dict.fromkeys(
        ("LoadedSources", "load_sources", "read_sources"), "aggregator.settings.sources"
    ),
    **dict.fromkeys(
        ("SETTINGS", "SettingSpec", "settings_reference_markdown"), "aggregator.settings.spec"
    ),
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "SETTINGS",
    "ApiSettings",
    "DedupeSettings",
    "DigestProfile",
    "DigestSettings",
    "FetchSettings",
    "LoadedSources",
    "RetentionSettings",
    "ScheduleSettings",
    "SettingSpec",
    "Settings",
    "SmtpSettings",
    "WorkerSettings",
    "load_settings",
    "load_sources",
    "read_sources",
    "resolve_config_dir",
    "settings_reference_markdown",
]
