"""Load and validate the config folder: aggregator.toml (settings) and sources.toml.

Every problem is a `ConfigError` naming the file, the line, the key and what was expected.
The one declared table of settings is `SETTINGS`; docs/settings.md is generated from it.
"""

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
from aggregator.settings.sources import load_sources
from aggregator.settings.spec import SETTINGS, SettingSpec, settings_reference_markdown

__all__ = [
    "SETTINGS",
    "ApiSettings",
    "DedupeSettings",
    "DigestProfile",
    "DigestSettings",
    "FetchSettings",
    "RetentionSettings",
    "ScheduleSettings",
    "SettingSpec",
    "Settings",
    "SmtpSettings",
    "WorkerSettings",
    "load_settings",
    "load_sources",
    "resolve_config_dir",
    "settings_reference_markdown",
]
