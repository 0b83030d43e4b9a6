"""Topic tags: run compiled rules over one item. Pure: values in, a tuple out."""

from __future__ import annotations

from urllib.parse import unquote

from aggregator.models import Item, Source
from aggregator.tag.auto import automatic_tags
from aggregator.tag.haystack import Haystack
from aggregator.tag.index import ItemIndex
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


def indexed(item: Item, source: Source, rules: TagRules) -> ItemIndex:
    """The item's fields folded and indexed once, ready for every rule (see index.py)."""
    texts = [field_text(item, source, name) for name in rules.index_fields]
    return ItemIndex(rules.index, texts)


def topic_tags(item: Item, source: Source, rules: TagRules) -> tuple[str, ...]:
    """Names of the topics whose rules fire on the item, in file order."""
    return tuple(indexed(item, source, rules).topics())


def explain(item: Item, source: Source, rules: TagRules) -> tuple[tuple[str, int | None], ...]:
    """(tag, line of the rule) for every rule that fires: why an item got its topic tags."""
    found = indexed(item, source, rules)
    return tuple(
        (tag, rule.line) for tag, topic in rules.index.topics for rule in topic if found.fires(rule)
    )


def tag_item(item: Item, source: Source, rules: TagRules) -> tuple[str, ...]:
    """Topic tags and automatic tags of an item: sorted and unique. Pure."""
    return tuple(sorted({*topic_tags(item, source, rules), *automatic_tags(item, source)}))
