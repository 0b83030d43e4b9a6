"""`python -m aggregator.settings > docs/settings.md` regenerates the settings reference."""

from aggregator.settings.spec import settings_reference_markdown

print(settings_reference_markdown(), end="")
