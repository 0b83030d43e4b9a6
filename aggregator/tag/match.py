"""Topic tags: run compiled rules over one item. Pure: values in, a tuple out."""

from __future__ import annotations

from urllib.parse import unquote

from aggregator.models import Item, Source
from aggregator.tag.auto import automatic_tags
from aggregator.tag.haystack import Haystack
from aggregator.tag.rules import Field, TagRules

# Joins the parts of one field. Not a space or hyphen, so no phrase can run across two parts
# (the end of a summary and the start of the body, two categories).
_JOIN = " | "


def field_text(item: Item, source: Source, name: Field) -> str:
    """The raw text a rule reads for one field, before folding."""
    if name is Field.TITLE:
        return item.title
    if name is Field.TEXT:
        if item.summary and item.summary not in item.text:
            return f"{item.summary}{_JOIN}{item.text}"
        return item.text
    if name is Field.URL:
        urls = dict.fromkeys(unquote(u) for u in (item.canonical_url, item.url) if u)
        return _JOIN.join(urls)
    if name is Field.SOURCE:
        return f"{source.id}{_JOIN}{source.name}"
    return _JOIN.join(item.categories)


def haystacks(item: Item, source: Source, rules: TagRules) -> dict[tuple[Field, ...], Haystack]:
    """The text of each combination of fields some rule reads: each field folded and indexed
    once, then joined per combination, so a rule runs each pattern once, not once per field."""
    fields = {name: Haystack.of(field_text(item, source, name)) for name in rules.fields}
    return {combo: Haystack.join([fields[f] for f in combo]) for combo in rules.field_sets}


def topic_tags(item: Item, source: Source, rules: TagRules) -> tuple[str, ...]:
    """Names of the topics whose rules fire on the item, in file order."""
    texts = haystacks(item, source, rules)
    return tuple(
        topic.tag
        for topic in rules.rules
        if any(rule.fires(texts[rule.fields]) for rule in topic.rules)
    )


def explain(item: Item, source: Source, rules: TagRules) -> tuple[tuple[str, int | None], ...]:
    """(tag, line of the rule) for every rule that fires: why an item got its topic tags."""
    texts = haystacks(item, source, rules)
    return tuple(
        (topic.tag, rule.line)
        for topic in rules.rules
        for rule in topic.rules
        if rule.fires(texts[rule.fields])
    )


def tag_item(item: Item, source: Source, rules: TagRules) -> tuple[str, ...]:
    """Topic tags and automatic tags of an item: sorted and unique. Pure."""
    return tuple(sorted({*topic_tags(item, source, rules), *automatic_tags(item, source)}))
