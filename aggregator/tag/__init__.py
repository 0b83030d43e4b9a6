"""Stage 5: tags. Topic tags from the rules in config/tags.toml, plus automatic tags.

Pure functions over values: `tag_item(item, source, rules)` is re-runnable on stored items.

    rules.py     load and validate tags.toml into compiled `TagRules` (ConfigError: file, line)
    locate.py    line numbers in TOML text, for those errors
    patterns.py  the pattern language (phrases, prefixes, ``re:``) and PatternError
    phrase.py    plain phrases compiled, with the anchor word that lets most texts skip them
    regex.py     ``re:`` patterns checked and compiled, with shortcuts that keep the answer
    anyof.py     one list of patterns as one matcher
    haystack.py  an item's fields folded and indexed once
    fold.py      the accent and whitespace fold both sides go through
    match.py     running the rules over an item
    auto.py      automatic tags (org, source, kind, institution, country, lang, procedure)
"""

from aggregator.tag.auto import PROCEDURE_RE, automatic_tags, procedure_references
from aggregator.tag.match import explain, tag_item, topic_tags
from aggregator.tag.rules import (
    Field,
    TagRules,
    TopicTag,
    decode_tag_rules,
    load_tag_rules,
    parse_tag_rules,
)

__all__ = [
    "PROCEDURE_RE",
    "Field",
    "TagRules",
    "TopicTag",
    "automatic_tags",
    "decode_tag_rules",
    "explain",
    "load_tag_rules",
    "parse_tag_rules",
    "procedure_references",
    "tag_item",
    "topic_tags",
]
