"""Feed discovery and listing proposals: the pure parts on fixtures and the corpus, then
`aggregator sources add` end to end against the local HTTP server."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from bs4 import BeautifulSoup

from aggregator.cli import main
from aggregator.discover import (
    best_listing,
    check_listing,
    common_feed_urls,
    feed_links,
    propose_selectors,
)
from aggregator.models import Fetched

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

DATA = Path(__file__).parent / "data"
WORDPRESS = (DATA / "discover" / "ngo_wordpress_home.html").read_bytes()
WORDPRESS_FEED = (DATA / "discover" / "ngo_wordpress_feed.rss").read_bytes()
DRUPAL = (DATA / "discover" / "ngo_drupal_news_no_feed.html").read_bytes()
COUNCIL = (DATA / "parse" / "consilium_press_releases_listing.html").read_bytes()
DRUPAL_TITLES = [
    "Our statement on the Council position on the CSA Regulation",
    "European Day on the Protection of Children against Sexual Exploitation",
    "New report: survivors' voices in EU policy making",
    "Joint letter on the extension of the interim regulation",
]
HTML = "text/html; charset=utf-8"
FAST = "[fetch]\nretries = 0\nread_timeout = 2.0\ntotal_timeout = 3.0\n"
HEADER = "# Sources for the test: this comment must survive every edit.\n\n"


def page(content: bytes, url: str = "https://ngo.example/news/") -> Fetched:
    return Fetched(url=url, status_code=200, content=content, headers={"content-type": HTML})


def soup(content: bytes) -> BeautifulSoup:
    return BeautifulSoup(content, "lxml")


# -- pure parts ----------------------------------------------------------------------------


def test_feed_links_keep_feeds_in_page_order_and_drop_rest_api_and_oembed() -> None:
    links = feed_links(soup(WORDPRESS), "https://csoe.example/")
    assert [(link.url, link.type) for link in links] == [
        ("https://csoe.example/feed/", "rss"),
        ("https://csoe.example/comments/feed/", "rss"),
    ]


def test_comment_feeds_go_last_and_base_href_resolves() -> None:
    html = b"""<html><head><base href="https://site.example/en/">
    <link rel="alternate" type="application/atom+xml" title="Comments" href="comments.atom">
    <link rel="Alternate" type="application/feed+json; charset=utf-8" href="news.json">
    <link rel="alternate" type="application/json" title="JSON Feed" href="/feed.json">
    <link rel="stylesheet alternate" type="application/rss+xml" href="/print.rss">
    </head></html>"""
    links = feed_links(soup(html), "https://other.example/page")
    assert [link.url for link in links] == [
        "https://site.example/en/news.json",
        "https://site.example/feed.json",
        "https://site.example/print.rss",
        "https://site.example/en/comments.atom",
    ]


def test_common_paths_are_in_the_page_s_folder_then_on_the_site_root() -> None:
    # A site installed in a folder publishes its feed there: only the root was tried.
    urls = common_feed_urls("https://ngo.example:8443/en/news/?page=2")
    assert urls[0] == "https://ngo.example:8443/en/news/feed"
    assert urls[6] == "https://ngo.example:8443/feed"
    assert "https://ngo.example:8443/index.xml" in urls and len(urls) == 12
    # A page on the root: the root's paths, once.
    assert common_feed_urls("https://ngo.example/news.html")[0] == "https://ngo.example/feed"
    assert len(common_feed_urls("https://ngo.example/")) == 6


def test_listing_proposal_on_a_page_full_of_other_repeated_links() -> None:
    proposal = best_listing("cfn", page(DRUPAL))
    assert proposal is not None
    selectors = proposal.selectors
    assert (selectors.title, selectors.link, selectors.date) == ("h3", "h3 a@href", "time@datetime")
    document = check_listing("cfn", page(DRUPAL), selectors)
    assert document is not None
    assert [item.title for item in document.items] == DRUPAL_TITLES
    assert all(item.published is not None for item in document.items)
    assert proposal.item_count == 4 and proposal.newest is not None
    assert proposal.newest.isoformat() == "2026-02-27T10:00:00+00:00"


def test_proposal_finds_the_selectors_written_by_hand_for_the_council() -> None:
    # tests/test_refresh.py scrapes this page with li.gsc-excerpt-item / h3 a@href / time.
    best = propose_selectors(soup(COUNCIL))[0]
    assert (best.item, best.link, best.date) == (
        "li.gsc-excerpt-item",
        "h3 a@href",
        "time@datetime",
    )


def test_no_proposal_for_a_page_of_menus_only() -> None:
    html = (
        b"""<html><body><nav><ul>"""
        + b"".join(b'<li><a href="/s%d">Section %d</a></li>' % (n, n) for n in range(8))
        + b"""</ul></nav><ul class="menu">"""
        + b"".join(
            b'<li class="menu-item"><a href="/m%d">Item %d</a></li>' % (n, n) for n in range(8)
        )
        + b"</ul></body></html>"
    )
    assert propose_selectors(soup(html)) == []
    assert best_listing("x", page(html)) is None


def test_corpus_ngo_page_announces_its_feed_and_a_sharepoint_link_is_not_one(
    corpus: Path,
) -> None:
    ngo = (corpus / "html/article/digitalcourage_de_ngo_muendigkeit_trafilatura.html").read_bytes()
    assert [link.url for link in feed_links(soup(ngo), "https://digitalcourage.de/")] == [
        "https://digitalcourage.de/rss.xml"
    ]
    eca = (corpus / "html/listing/eca_europa_eu_all-news_listing.html").read_bytes()
    assert feed_links(soup(eca), "https://www.eca.europa.eu/en/all-news") == []


def test_corpus_govuk_listing_proposal_yields_dated_news(corpus: Path) -> None:
    content = (
        corpus / "html/listing/govuk_search_news-and-communications_braverman_2023-06-02.html"
    ).read_bytes()
    fetched = page(content, "https://www.gov.uk/search/news-and-communications")
    proposal = best_listing("govuk", fetched)
    assert proposal is not None and proposal.item_count >= 10
    document = check_listing("govuk", fetched, proposal.selectors)
    assert document is not None
    assert all(item.url and item.url.startswith("https://www.gov.uk/") for item in document.items)
    assert sum(item.published is not None for item in document.items) >= 10


# -- `aggregator sources add` --------------------------------------------------------------


@pytest.fixture()
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.delenv("AGGREGATOR_CONFIG", raising=False)
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "aggregator.toml").write_text(FAST)
    (folder / "sources.toml").write_text(
        HEADER + '[[source]]\nid = "iwf"  # kept\nname = "IWF"\n'
        'url = "https://www.iwf.org.uk/news-media/rss"\nkind = "feed"\norg = "ngo"\n'
    )
    return folder


def sources_of(folder: Path) -> list[dict[str, object]]:
    data = tomllib.loads((folder / "sources.toml").read_text())
    sources: list[dict[str, object]] = data["source"]
    return sources


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_finds_the_alternate_feed_and_appends_it_keeping_the_file(
    http_server: FixtureServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = http_server.add("/", body=WORDPRESS, content_type=HTML)
    http_server.add("/feed/", body=WORDPRESS_FEED, content_type="application/rss+xml")
    http_server.add("/comments/feed/", body=WORDPRESS_FEED, content_type="application/rss+xml")
    before = (config / "sources.toml").read_text()

    code, out, _ = run(capsys, "--config", str(config), "sources", "add", home, "--dry-run")
    assert code == 0 and "dry run" in out
    assert (config / "sources.toml").read_text() == before

    code, out, _ = run(
        capsys, "--config", str(config), "sources", "add", home, "--org", "ngo", "--tag", "youth"
    )
    assert code == 0, out
    assert "3 items" in out and "newest: 2026-03-02" in out and "via" not in out
    after = (config / "sources.toml").read_text()
    assert after.startswith(before)  # comments and layout untouched: appended only
    added = sources_of(config)[-1]
    assert added == {
        "id": "127-0-0-1",
        "name": "Child Safety Online Europe",
        "url": http_server.url("/feed/"),
        "kind": "feed",
        "org": "ngo",
        "tags": ["youth"],
    }
    assert http_server.count("/comments/feed/") == 0  # the posts feed came first
    assert http_server.count("/feed") == 0  # no common path probed once a link worked

    # The same feed again: reported, nothing written. The source then refreshes for real.
    code, out, _ = run(capsys, "--config", str(config), "sources", "add", home)
    assert code == 0 and "already configured as '127-0-0-1'" in out
    assert (config / "sources.toml").read_text() == after
    code, out, _ = run(
        capsys, "--config", str(config), "refresh", "--json", "--source", "127-0-0-1"
    )
    assert code == 0 and '"new": 3' in out


def test_add_falls_back_to_common_paths_and_makes_ids_unique(
    http_server: FixtureServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page_url = http_server.add(
        "/en/news", body=b"<html><title>News</title></html>", content_type=HTML
    )
    http_server.add("/feed", body=b"<html>a theme's catch-all page</html>", content_type=HTML)
    http_server.add("/rss.xml", body=WORDPRESS_FEED, content_type="application/rss+xml")
    code, out, _ = run(capsys, "--config", str(config), "sources", "add", page_url, "--id", "csoe")
    assert code == 0, out
    assert sources_of(config)[-1]["url"] == http_server.url("/rss.xml")
    assert sources_of(config)[-1]["id"] == "csoe"
    code, _, err = run(capsys, "--config", str(config), "sources", "add", page_url, "--id", "csoe")
    assert code == 2 and "already configured" in err


def test_add_finds_the_feed_of_a_site_installed_in_a_folder(
    http_server: FixtureServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A blog under /eta/ publishes /eta/rss.xml: only the root's paths were tried.
    page_url = http_server.add("/eta/", body=b"<html><title>Eta</title></html>", content_type=HTML)
    http_server.add("/eta/rss.xml", body=WORDPRESS_FEED, content_type="application/rss+xml")
    code, out, _ = run(capsys, "--config", str(config), "sources", "add", page_url, "--id", "eta")
    assert code == 0, out
    assert sources_of(config)[-1]["url"] == http_server.url("/eta/rss.xml")


def test_a_dry_run_refuses_what_the_real_run_would(
    http_server: FixtureServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = http_server.add("/feed/", body=WORDPRESS_FEED, content_type="application/rss+xml")
    before = (config / "sources.toml").read_text()
    for dry_run in (["--dry-run"], []):
        code, _, err = run(
            capsys, "--config", str(config), "sources", "add", url, "--id", "Bad Id", *dry_run
        )
        assert code == 2
        # Said of the option, before anything is fetched (test_config_places.py).
        assert "sources add --id 'Bad Id': invalid id 'Bad Id'" in err
    assert (config / "sources.toml").read_text() == before


def test_add_given_the_feed_itself(
    http_server: FixtureServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = http_server.add("/feed/", body=WORDPRESS_FEED, content_type="application/rss+xml")
    code, out, _ = run(capsys, "--config", str(config), "sources", "add", url, "--dry-run")
    assert code == 0 and "the URL itself" in out and f'url = "{url}"' in out


def test_add_without_a_feed_proposes_an_html_source_and_writes_it_when_accepted(
    http_server: FixtureServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = http_server.add("/en/news", body=DRUPAL, content_type=HTML)
    before = (config / "sources.toml").read_text()
    code, out, _ = run(capsys, "--config", str(config), "sources", "add", url, "--org", "ngo")
    assert code == 0
    assert "no feed found" in out and "proposed html source: 4 items" in out
    assert 'kind = "html"' in out and 'item = "div.views-row"' in out and "--accept" in out
    assert (config / "sources.toml").read_text() == before
    for path in ("/feed", "/rss.xml", "/atom.xml", "/feed.json", "/index.xml", "/feed/"):
        assert http_server.count(path) == 1, path

    code, out, _ = run(
        capsys, "--config", str(config), "sources", "add", url, "--accept", "--name", "CFN news"
    )
    assert code == 0, out
    added = sources_of(config)[-1]
    assert added["kind"] == "html" and added["name"] == "CFN news"
    code, out, _ = run(
        capsys, "--config", str(config), "refresh", "--json", "--source", str(added["id"])
    )
    assert code == 0 and '"new": 4' in out


def test_add_reports_a_blocked_page_with_advice(
    http_server: FixtureServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = http_server.add(
        "/",
        status=403,
        body=b"<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>",
        content_type=HTML,
        headers={"cf-mitigated": "challenge"},
    )
    code, _, err = run(capsys, "--config", str(config), "sources", "add", url)
    assert code == 1 and "challenge" in err and "User-Agent" in err


def test_add_rejects_what_is_not_a_web_url(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--config", str(config), "sources", "add", "ftp://x.example/")
    assert code == 2 and "http(s) URL" in err


def test_add_keeps_the_file_s_mode_and_line_ends(
    http_server: FixtureServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config / "sources.toml"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    path.chmod(0o644)
    url = http_server.add("/feed/", body=WORDPRESS_FEED, content_type="application/rss+xml")
    code, out, _ = run(capsys, "--config", str(config), "sources", "add", url)
    assert code == 0, out
    data = path.read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"")  # every line still ends in CRLF
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)  # not mkstemp's 0600
    assert len(sources_of(config)) == 2


def test_add_saves_the_url_asked_for_not_a_temporary_redirect_s_target(
    http_server: FixtureServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    http_server.add("/cdn/feed.xml", body=WORDPRESS_FEED, content_type="application/rss+xml")
    asked = http_server.redirect("/feed", "/cdn/feed.xml", status=302)
    code, out, _ = run(capsys, "--config", str(config), "sources", "add", asked)
    assert code == 0, out
    assert sources_of(config)[-1]["url"] == asked


def test_a_listing_reached_through_a_temporary_redirect_keeps_the_url_asked_for(
    http_server: FixtureServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "/fr/actualites" answering 302 to "page 1" of a listing: the page's address is the one
    # asked for; the proposal's sample titles read as text, not as the parser's markup.
    page = DRUPAL.replace(b"</h3>", b" &amp; Q&amp;A</h3>", 1)
    http_server.add("/fr/presse/liste.html", body=page, content_type=HTML)
    asked = http_server.redirect("/fr/actualites", "/fr/presse/liste.html?page=1", status=302)
    code, out, _ = run(capsys, "--config", str(config), "sources", "add", asked, "--accept")
    assert code == 0, out
    assert f"no feed found for {asked}\n" in out
    samples = out.split("e.g. ", 1)[1].splitlines()[0]
    assert "<pre>" not in samples and "&amp;" not in samples and " & Q&A" in samples
    added = sources_of(config)[-1]
    assert added["url"] == asked and added["kind"] == "html"


def test_add_finds_a_feed_served_as_text_html(
    http_server: FixtureServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = http_server.add("/feed-html", body=WORDPRESS_FEED, content_type=HTML)
    code, out, _ = run(capsys, "--config", str(config), "sources", "add", url, "--dry-run")
    assert code == 0 and "the URL itself" in out, out


def test_add_never_gives_the_id_of_a_source_removed_from_the_config(
    http_server: FixtureServer, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A source refreshed under "127-0-0-1", then removed: its items stay in the store, and
    # a new source must not inherit them by being given the same id.
    url = http_server.add("/feed/", body=WORDPRESS_FEED, content_type="application/rss+xml")
    assert run(capsys, "--config", str(config), "sources", "add", url)[0] == 0
    assert run(capsys, "--config", str(config), "refresh", "--source", "127-0-0-1")[0] == 0
    path = config / "sources.toml"
    path.write_text(path.read_text().split('\n\n[[source]]\nid = "127-0-0-1"')[0] + "\n")
    assert [s["id"] for s in sources_of(config)] == ["iwf"]
    other = http_server.add("/other/feed", body=WORDPRESS_FEED, content_type="application/rss+xml")
    assert run(capsys, "--config", str(config), "sources", "add", other)[0] == 0
    assert sources_of(config)[-1]["id"] == "127-0-0-1-2"


def test_a_feed_link_with_a_space_is_percent_encoded() -> None:
    soup = BeautifulSoup(
        '<link rel="alternate" type="application/rss+xml" href="/my feed.xml">', "lxml"
    )
    assert [link.url for link in feed_links(soup, "https://ngo.example.org/news")] == [
        "https://ngo.example.org/my%20feed.xml"
    ]
