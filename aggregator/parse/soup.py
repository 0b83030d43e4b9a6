"""BeautifulSoup for HTML pages, without bs4's advice to developers on the operator's screen.

A listing page with an XML prolog (XHTML, as older government sites still serve it) is an
HTML page, read as one; bs4's XMLParsedAsHTMLWarning printed eleven lines on stderr at every
refresh. soupsieve's FutureWarning for `:contains` (still read, now spelled
`:-soup-contains`) came out of `sources check` the same way.
"""

from __future__ import annotations

import warnings

from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)
warnings.filterwarnings("ignore", message=r"The pseudo class ':contains' is deprecated")


def html_soup(text: str) -> BeautifulSoup:
    """`text` parsed as an HTML page (lxml)."""
    return BeautifulSoup(text, "lxml")
