"""What the feed specs say of an entry's link and language, read on both paths (feedparser
alone and the fast path, tests/support_fastfeed.py): an Atom alternate of any type or
written as its relation's IRI (RFC 4287 4.2.7.2), an RSS guid that says it is no permalink,
an RSS item's own dc:language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support_fastfeed import BothPathsReader

NOW = datetime(2026, 1, 1, tzinfo=UTC)
COUNCIL = "https://www.consilium.europa.eu"


@pytest.fixture()
def reader(monkeypatch: pytest.MonkeyPatch) -> BothPathsReader:
    return BothPathsReader(monkeypatch, now=NOW)


ATOM = f"""<feed xmlns="http://www.w3.org/2005/Atom"><title>Council</title><id>urn:c</id>
<updated>2025-11-20T10:00:00Z</updated><link rel="alternate" href="{COUNCIL}/en/press/"/>
<entry><title>Council mandate on the CSA Regulation (PDF)</title><id>urn:c:2</id>
 <link rel="alternate" type="application/pdf" href="{COUNCIL}/media/2.pdf"/>
 <updated>2025-11-12T09:00:00Z</updated><summary>The mandate.</summary></entry>
<entry><title>Press release</title><id>urn:c:3</id>
 <link rel="http://www.iana.org/assignments/relation/alternate" href="{COUNCIL}/en/press/1/"/>
 <link rel="self" href="{COUNCIL}/api/1"/>
 <updated>2025-11-12T09:00:00Z</updated><summary>Adopted.</summary></entry>
<entry><title>Annex</title><id>urn:c:4</id>
 <link rel="enclosure" type="application/pdf" href="{COUNCIL}/media/4.pdf"/>
 <updated>2025-11-12T09:00:00Z</updated><summary>Annex only.</summary></entry>
</feed>"""


@pytest.mark.parametrize("doctype", ["", "<!DOCTYPE feed>"], ids=["fast", "feedparser"])
def test_an_atom_alternate_of_any_type_or_written_as_an_iri_is_the_entry_s_link(
    reader: BothPathsReader, doctype: str
) -> None:
    items = reader.items(doctype + ATOM, f"{COUNCIL}/feed.atom")
    assert [i.url for i in items[:2]] == [f"{COUNCIL}/media/2.pdf", f"{COUNCIL}/en/press/1/"]
    # An enclosure is no alternate: the entry has no link of its own.
    assert items[2].url == f"{COUNCIL}/en/press/" and "#entry-" in items[2].canonical_url


RSS = """<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>IWF</title><link>https://www.iwf.org.uk/</link><language>en-gb</language>
<item><title>Hotline figures</title><guid isPermaLink="false">https://www.iwf.org.uk/n/4/</guid>
 <description>Figures.</description></item>
<item><title>Annual report</title><guid>https://www.iwf.org.uk/n/5/</guid>
 <description>Report.</description></item>
<item><title>Rapport annuel</title><link>https://www.iwf.org.uk/fr/5/</link>
 <dc:language>fr</dc:language><description>Le rapport de la hotline.</description></item>
</channel></rss>"""


@pytest.mark.parametrize("doctype", ["", "<!DOCTYPE rss>"], ids=["fast", "feedparser"])
def test_a_guid_that_is_no_permalink_is_no_link_and_an_item_s_language_is_its_own(
    reader: BothPathsReader, doctype: str
) -> None:
    non_permalink, permalink, french = reader.items(doctype + RSS, "https://www.iwf.org.uk/rss")
    # RSS 2.0: with isPermaLink="false" "the guid may not be assumed to be a url".
    assert non_permalink.url == "https://www.iwf.org.uk/"
    assert non_permalink.canonical_url.startswith("https://www.iwf.org.uk/#entry-")
    assert non_permalink.identity == "g:https://www.iwf.org.uk/n/4/"
    assert permalink.url == "https://www.iwf.org.uk/n/5/"
    assert (french.language, permalink.language) == ("fr", "en")
