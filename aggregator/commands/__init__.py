"""Sub-commands that live in their own modules (listed in cli.COMMAND_MODULES)."""
