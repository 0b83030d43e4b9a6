"""BeautifulSoup for HTML pages, without bs4's advice to developers on the operator's screen.

A listing page with an XML prolog (XHTML, as older government sites still serve it) is an
HTML page, read as one; bs4's XMLParsedAsHTMLWarning printed eleven lines on stderr at every
refresh. soupsieve's FutureWarning for `:contains` (still read, now spelled
`:-soup-contains`) came out of `sources check` the same way.
"""

from __future__ import annotations

import warnings

import soupsieve
from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

# Selectors as browsers and their developer tools read them: soupsieve 2.6+ refuses by
# default what CSS's draft leaves out but browsers take, as a descendant in :has()
# ("li:has(h3 a)"), and `sources check` called such a selector invalid.
AS_BROWSERS_READ: int = getattr(soupsieve, "NOSTRICT", 0)

warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)
warnings.filterwarnings("ignore", message=r"The pseudo class ':contains' is deprecated")


def html_soup(text: str) -> BeautifulSoup:
    """`text` parsed as an HTML page (lxml). The filter again, locally: one a caller sets
    (pytest's "error", an embedding application's) is put ahead of the module's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(text, "lxml")
