"""Topic tags: run compiled rules over one item. Pure: values in, a tuple out."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from aggregator.models import Item, Source
from aggregator.tag.auto import automatic_tags
from aggregator.tag.haystack import PART_SEPARATOR, Haystack
from aggregator.tag.index import ItemIndex
from aggregator.tag.rules import Field, TagRules


def field_parts(item: Item, source: Source, name: Field) -> tuple[str, ...]:
    """The raw texts a rule reads for one field, before folding, in order: the field's text is
    them joined by PART_SEPARATOR."""
    return _PARTS[name](item, source)


def _title(item: Item, _source: Source) -> tuple[str, ...]:
    return (item.title,)


def _text(item: Item, _source: Source) -> tuple[str, ...]:
    """The body, and the summary before it where the body does not have it."""
    if item.summary and item.summary not in item.text:
        return (item.summary, item.text)
    return (item.text,)


def _url(item: Item, _source: Source) -> tuple[str, ...]:
    return tuple(dict.fromkeys(unquote(u) for u in (item.canonical_url, item.url) if u))


def _source(_item: Item, source: Source) -> tuple[str, ...]:
    return (source.id, source.name)


def _categories(item: Item, _source: Source) -> tuple[str, ...]:
    return item.categories


_PARTS: dict[Field, Callable[[Item, Source], tuple[str, ...]]] = {
    Field.TITLE: _title,
    Field.TEXT: _text,
    Field.URL: _url,
    Field.SOURCE: _source,
    Field.CATEGORIES: _categories,
}


def field_text(item: Item, source: Source, name: Field) -> str:
    """The raw text a rule reads for one field, before folding."""
    return PART_SEPARATOR.join(field_parts(item, source, name))


def haystacks(item: Item, source: Source, rules: TagRules) -> dict[tuple[Field, ...], Haystack]:
    """The text of each combination of fields some rule reads: each field folded and indexed
    once, then joined per combination, so a rule runs each pattern once, not once per field."""
    fields = {name: Haystack.of(field_text(item, source, name)) for name in rules.fields}
    return {combo: Haystack.join([fields[f] for f in combo]) for combo in rules.field_sets}


def indexed(item: Item, source: Source, rules: TagRules) -> ItemIndex:
    """The item's fields folded and indexed once, ready for every rule (see index.py)."""
    return ItemIndex(rules.index, [_PARTS[name](item, source) for name in rules.index_fields])


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
    topics = indexed(item, source, rules).topics()
    return tuple(sorted({*topics, *automatic_tags(item, source)}))
