"""What a refresh says of a feed that parses but lists nothing."""

# A warning, not an error: a new feed may be empty yet. It tells an empty feed from an
# unchanged one on a first refresh, where both report no new item.
NO_ENTRIES = "the feed lists no entries"
