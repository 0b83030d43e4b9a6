"""`python -m aggregator` is the `aggregator` console script."""

from aggregator.cli import entry

entry()
