"""aggregator: feeds and listing pages to a deduplicated, tagged store and a daily digest."""

__version__ = "0.1.0"
