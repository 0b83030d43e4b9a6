"""OPML import and export: other readers' files (Miniflux, FreshRSS, a flat list) in, OPML
2.0 out, and round trips through `aggregator sources import/export`. Also the tomlkit
writer they share with `sources add`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from aggregator.cli import main
from aggregator.config_edit import append_sources, id_from_url, unique_id
from aggregator.errors import ConfigError
from aggregator.models import OrgKind, Source, SourceKind
from aggregator.opml import NAMESPACE, GroupBy, plan_import, read_opml, write_opml
from aggregator.settings import load_sources

OPML = Path(__file__).parent / "data" / "opml"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def read(name: str) -> bytes:
    return (OPML / name).read_bytes()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def empty_config(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "aggregator.toml").write_text("")
    return folder


def comparable(sources: tuple[Source, ...]) -> set[tuple[object, ...]]:
    return {
        (
            s.id,
            s.name,
            s.url,
            s.kind,
            s.org,
            s.country,
            s.institution,
            s.language,
            s.timezone,
            s.interval,
            s.enabled,
            s.verified,
            tuple(sorted(s.tags)),
        )
        for s in sources
    }


# -- reading other readers' files ----------------------------------------------------------


def test_miniflux_categories_become_tags_and_duplicates_are_skipped() -> None:
    document = read_opml(read("miniflux_export.opml"), name="miniflux_export.opml")
    assert document.title == "Miniflux" and len(document.feeds) == 5
    plan = plan_import(document, ())
    by_url = {e["url"]: e for e in plan.entries}
    assert set(by_url) == {
        "https://edri.org/feed/",
        "https://www.iwf.org.uk/news-media/rss",
        "https://ecpat.org/feed/",
        "https://www.europarl.europa.eu/rss/doc/press-releases/en.xml",
    }
    assert by_url["https://ecpat.org/feed/"]["tags"] == ["child-protection"]
    assert by_url["https://ecpat.org/feed/"]["name"] == "ECPAT International"
    assert by_url["https://ecpat.org/feed/"]["id"] == "ecpat"
    # Upper-case host and a tracking parameter: the same feed, by canonical URL.
    [skipped] = plan.skipped
    assert skipped.url.startswith("https://WWW.IWF.ORG.UK/")
    assert skipped.reason == "repeated in the file (imported as 'iwf')"


def test_freshrss_namespace_is_ignored_and_configured_feeds_are_reported() -> None:
    document = read_opml(read("freshrss_export.opml"), name="freshrss_export.opml")
    existing = (
        Source(
            id="edri",
            name="EDRi",
            url="https://edri.org/feed/",
            kind=SourceKind.FEED,
            org=OrgKind.NGO,
        ),
    )
    plan = plan_import(document, existing, default_org=OrgKind.PRESS)
    assert [(s.url, s.reason) for s in plan.skipped] == [
        ("https://edri.org/feed", "already configured as 'edri'")
    ]
    by_name = {e["name"]: e for e in plan.entries}
    assert set(by_name) == {"netzpolitik.org", "Chaos Computer Club", "Euractiv Digital"}
    assert by_name["Chaos Computer Club"]["tags"] == ["digital-rights"]
    assert by_name["Euractiv Digital"]["org"] == "press"  # the default given
    assert by_name["netzpolitik.org"]["id"] == "netzpolitik"


def test_flat_opml_1_list_with_odd_spellings() -> None:
    document = read_opml(read("reader_flat_export.opml"), name="reader_flat_export.opml")
    plan = plan_import(document, (), extra_tags=["imported"])
    assert [(e["name"], e["url"], e["tags"]) for e in plan.entries] == [
        ("Missing Children Europe", "https://missingchildreneurope.eu/feed/", ["imported"]),
        ("Eurochild", "https://www.eurochild.org/feed/", ["imported"]),
        ("Tuta blog", "https://tuta.com/blog/feed.xml", ["imported"]),
    ]
    assert plan.skipped == ()  # the bookmark outline has no xmlUrl: not a feed at all


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"<opml><head></head>", "not a readable OPML file"),
        (b"<rss version='2.0'><channel/></rss>", "root element is <rss>"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;">]><opml><body><outline text="&b;"/></body></opml>',
            "it declares a DTD or entities, which are refused",
        ),
    ],
    ids=["truncated", "not-opml", "no-body", "entity-expansion"],
)
def test_broken_and_hostile_files_are_config_errors(data: bytes, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_opml(data, name="subs.opml")
    assert problem in str(caught.value) and "subs.opml" in str(caught.value)


def test_a_file_nested_a_thousand_levels_deep_is_read() -> None:
    depth = 1200  # past Python's recursion limit
    data = (
        b"<opml version='2.0'><body>"
        + b"<outline text='folder'>" * depth
        + b"<outline text='Deep' xmlUrl='https://deep.example/feed.xml'/>"
        + b"</outline>" * depth
        + b"<outline text='After' xmlUrl='https://after.example/feed.xml'/></body></opml>"
    )
    feeds = read_opml(data, name="deep.opml").feeds
    assert [f.title for f in feeds] == ["Deep", "After"]  # in document order
    assert feeds[0].categories == ("folder",) * depth and feeds[1].categories == ()


# -- writing ---------------------------------------------------------------------------------


RICH = (
    Source(
        id="ep-press",
        name="European Parliament press releases",
        url="https://www.europarl.europa.eu/rss/doc/press-releases/en.xml",
        kind=SourceKind.FEED,
        org=OrgKind.PARLIAMENT,
        institution="European Parliament",
        language="en",
        interval=timedelta(minutes=30),
        tags=("eu", "csa-regulation"),
    ),
    Source(
        id="bmj",
        name="BMJ Pressemitteilungen",
        url="https://www.bmj.de/SiteGlobals/Functions/RSSFeed/DE/RSSNewsfeed/RSSNewsfeed.xml",
        kind=SourceKind.FEED,
        org=OrgKind.GOVERNMENT,
        country="DE",
        language="de",
        timezone="Europe/Berlin",
        enabled=False,  # disabled sources stay disabled through export and import
    ),
    Source(
        id="iwf",
        name="Internet Watch Foundation",
        url="https://www.iwf.org.uk/news-media/rss",
        kind=SourceKind.FEED,
        org=OrgKind.NGO,
    ),
)


def test_export_is_opml_2_with_groups_and_every_feed_attribute() -> None:
    exported = write_opml(RICH, now=NOW)
    data = exported.data
    assert exported.left_out == ()
    root = ET.fromstring(data)
    assert root.tag == "opml" and root.get("version") == "2.0"
    head = root.find("head")
    assert head is not None
    assert head.findtext("title") == "aggregator sources"
    assert parsedate_to_datetime(head.findtext("dateCreated") or "") == NOW
    groups = {g.get("text"): g for g in root.iterfind("body/outline")}
    assert set(groups) == {"government", "ngo", "parliament"}
    [ep] = list(groups["parliament"])
    assert ep.get("type") == "rss"
    assert ep.get("text") == ep.get("title") == "European Parliament press releases"
    assert ep.get("xmlUrl") == RICH[0].url
    assert ep.get("htmlUrl") == "https://www.europarl.europa.eu/"
    private = Source(
        id="private",
        name="Members' feed",
        url="https://alice:s3cr3t@members.example/private.xml",
        kind=SourceKind.FEED,
        org=OrgKind.NGO,
    )
    [outline] = ET.fromstring(write_opml([private], now=NOW).data).iterfind(".//outline[@xmlUrl]")
    assert outline.get("htmlUrl") == "https://members.example/"  # no password in a home page
    assert ep.get("category") == "/eu,/csa-regulation"
    assert ep.get(f"{{{NAMESPACE}}}interval") == "30m"
    assert ep.get(f"{{{NAMESPACE}}}institution") == "European Parliament"
    by_tag = ET.fromstring(write_opml(RICH, now=NOW, group_by="tag").data)
    assert [g.get("text") for g in by_tag.iterfind("body/outline") if g.get("xmlUrl") is None] == [
        "eu"
    ]


def test_export_then_import_gives_the_same_sources(tmp_path: Path) -> None:
    for group_by in ("org", "tag"):
        data = write_opml(RICH, now=NOW, group_by=group_by).data
        plan = plan_import(read_opml(data, name="x.opml"), ())
        folder = tmp_path / group_by
        folder.mkdir()
        # Another [defaults] interval in the importing config: explicit intervals win.
        (folder / "sources.toml").write_text('[defaults]\ninterval = "2h"\n', encoding="utf-8")
        imported = append_sources(folder, plan.entries)
        assert comparable(imported) == comparable(RICH), group_by


def test_a_zone_and_tags_the_config_did_not_write_are_not_written_on_import(
    tmp_path: Path,
) -> None:
    # BMJ's zone is its country's: the importing config derives it the same way, and a
    # source without tags gets no "tags = []".
    data = write_opml(RICH[1:], now=NOW).data
    plan = plan_import(read_opml(data, name="x.opml"), ())
    (tmp_path / "sources.toml").write_text("", encoding="utf-8")
    append_sources(tmp_path, plan.entries)
    written = (tmp_path / "sources.toml").read_text(encoding="utf-8")
    assert "timezone" not in written and "tags" not in written
    assert 'country = "DE"' in written
    [bmj] = [s for s in load_sources(tmp_path) if s.id == "bmj"]
    assert bmj.timezone == "Europe/Berlin"


# Tags the folder reading would have turned into something else: named like an org kind
# (read back as the org, the tag lost), or with an underscore (slugged to a hyphen); an id
# with one; and sources whose URL was never confirmed.
AWKWARD = (
    Source(
        id="press_digest",
        name="Press digest",
        url="https://press.example/feed.xml",
        kind=SourceKind.FEED,
        org=OrgKind.INSTITUTION,
        verified=False,
        tags=("press", "ngo", "data_protection"),
    ),
    Source(
        id="watchdog",
        name="Watchdog",
        url="https://watchdog.example/rss",
        kind=SourceKind.FEED,
        org=OrgKind.PRESS,
        verified=False,
        tags=("institution",),
    ),
)


@pytest.mark.parametrize("group_by", ["org", "tag"])
def test_tags_named_like_org_kinds_and_unverified_sources_round_trip(
    group_by: GroupBy, tmp_path: Path
) -> None:
    # Export then import gave the "press_digest" source no tags but "ngo" as a tag... and
    # turned `verified = false` into true, and the id into "press-digest".
    data = write_opml(AWKWARD, now=NOW, group_by=group_by).data
    plan = plan_import(read_opml(data, name="x.opml"), ())
    imported = append_sources(tmp_path, plan.entries)
    assert comparable(imported) == comparable(AWKWARD)
    # Other readers still see the tags as folders and categories.
    [outline] = ET.fromstring(data).iterfind(".//outline[@xmlUrl='https://press.example/feed.xml']")
    assert outline.get("category") == "/press,/ngo,/data_protection"


def test_export_leaves_logins_out_of_feed_urls_unless_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A file made to be shared carried https://alice:s3cr3t@... as the feed's xmlUrl.
    folder = empty_config(tmp_path / "config")
    (folder / "sources.toml").write_text(
        '[[source]]\nid = "members"\nname = "Members"\n'
        'url = "https://alice:s3cr3t@members.example/private.xml"\nkind = "feed"\norg = "ngo"\n'
        '[[source]]\nid = "edri"\nname = "EDRi"\nurl = "https://edri.org/feed/"\n'
        'kind = "feed"\norg = "ngo"\n'
    )
    code, out, err = run(capsys, "--config", str(folder), "sources", "export")
    assert code == 0
    assert "s3cr3t" not in out and "alice" not in out
    urls = {o.get("xmlUrl") for o in ET.fromstring(out.encode()).iterfind(".//outline[@xmlUrl]")}
    assert urls == {"https://members.example/private.xml", "https://edri.org/feed/"}
    assert "left the user name and password out of the URL of 1 source: members" in err
    assert "--with-credentials" in err and "edri" not in err

    code, out, err = run(capsys, "--config", str(folder), "sources", "export", "--with-credentials")
    assert code == 0 and "https://alice:s3cr3t@members.example/private.xml" in out
    assert err == ""


@pytest.mark.parametrize(
    "name", ["miniflux_export.opml", "freshrss_export.opml", "reader_flat_export.opml"]
)
def test_other_readers_files_round_trip_through_the_cli(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = empty_config(tmp_path / "first")
    code, out, _ = run(capsys, "--config", str(first), "sources", "import", str(OPML / name))
    assert code == 0, out
    imported = load_sources(first)
    original = read_opml(read(name), name=name)
    expected_urls = {e["url"] for e in plan_import(original, ()).entries}
    assert {s.url for s in imported} == expected_urls

    exported = tmp_path / "export.opml"
    code, _, _ = run(capsys, "--config", str(first), "sources", "export", "-o", str(exported))
    assert code == 0
    second = empty_config(tmp_path / "second")
    code, out, _ = run(capsys, "--config", str(second), "sources", "import", str(exported))
    assert code == 0, out
    assert comparable(load_sources(second)) == comparable(imported)

    # Importing the same file again adds nothing and says why.
    code, out, _ = run(capsys, "--config", str(second), "sources", "import", str(exported))
    assert code == 0 and f"0 to add, {len(imported)} skipped" in out
    assert "already configured as" in out


def test_import_dry_run_and_export_to_stdout_leave_html_sources_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = empty_config(tmp_path / "config")
    (folder / "sources.toml").write_text(
        '[[source]]\nid = "council"\nname = "Council"\nurl = "https://www.consilium.europa.eu/"\n'
        'kind = "html"\norg = "institution"\n[source.selectors]\nitem = "li"\ntitle = "h3"\n'
        'link = "a"\n'
    )
    before = (folder / "sources.toml").read_text()
    code, out, _ = run(
        capsys,
        "--config",
        str(folder),
        "sources",
        "import",
        str(OPML / "reader_flat_export.opml"),
        "--dry-run",
    )
    assert code == 0 and "dry run" in out and "[[source]]" in out
    assert (folder / "sources.toml").read_text() == before
    code, out, err = run(capsys, "--config", str(folder), "sources", "export")
    assert code == 0 and "council" in err
    assert ET.fromstring(out.encode()).find("body/outline") is None


# -- the tomlkit writer ----------------------------------------------------------------------


def test_append_keeps_comments_and_rolls_back_an_invalid_result(tmp_path: Path) -> None:
    folder = empty_config(tmp_path / "config")
    text = (
        '# Shipped sources. Keep this comment.\n[defaults]\ninterval = "2h"  # polite\n\n'
        '[[source]]\nid = "iwf"\nname = "IWF"\nurl = "https://www.iwf.org.uk/news-media/rss"\n'
        'kind = "feed"\norg = "ngo"  # a charity\n'
    )
    (folder / "sources.toml").write_text(text)
    sources = append_sources(
        folder,
        [
            {
                "id": "ecpat",
                "name": "ECPAT",
                "url": "https://ecpat.org/feed/",
                "kind": "feed",
                "org": "ngo",
                "tags": ["child-protection"],
                "country": None,
            }
        ],
    )
    assert [s.id for s in sources] == ["iwf", "ecpat"]
    assert sources[1].interval == timedelta(hours=2)  # [defaults] still applies
    written = (folder / "sources.toml").read_text()
    assert written.startswith(text)

    with pytest.raises(ConfigError) as caught:
        append_sources(
            folder,
            [
                {
                    "id": "iwf",
                    "name": "Again",
                    "url": "https://x.example/",
                    "kind": "feed",
                    "org": "ngo",
                }
            ],
        )
    assert "duplicate source id 'iwf'" in str(caught.value)
    assert (folder / "sources.toml").read_text() == written  # rolled back


def test_ids_from_hosts() -> None:
    assert id_from_url("https://www.ecpat.org/feed/") == "ecpat"
    assert id_from_url("https://home-affairs.ec.europa.eu/rss") == "home-affairs-ec-europa"
    assert id_from_url("https://www.iwf.org.uk/news-media/rss") == "iwf"
    assert id_from_url("http://127.0.0.1:8080/") == "127-0-0-1"
    assert unique_id("ecpat", {"ecpat", "ecpat-2"}) == "ecpat-3"


def test_one_broken_entry_is_skipped_and_the_others_imported() -> None:
    opml = (
        b'<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><head><title>t</title>'
        b'</head><body><outline text="Actualit\xc3\xa9s">'
        b'<outline type="rss" text="Good" xmlUrl="https://edri.org/feed/"/>'
        b'<outline type="rss" text="Port" xmlUrl="http://example.org:99999/feed"/>'
        b'<outline type="rss" text="Label" xmlUrl="http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
        b'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example/feed"/>'
        b"</outline></body></opml>"
    )
    plan = plan_import(read_opml(opml, name="mixed.opml"), (), stored_ids={"edri"})
    [entry] = plan.entries
    assert entry["url"] == "https://edri.org/feed/"
    assert entry["tags"] == ["actualites"]  # accents folded, not "actualit-s"
    assert entry["id"] == "edri-2"  # "edri" is a stored source's, removed from the config
    assert sorted(s.reason.split(" ")[0].lower() for s in plan.skipped) == ["invalid", "port"]


def test_append_leaves_a_defaults_table_between_sources_where_it_is(tmp_path: Path) -> None:
    text = (
        '[[source]]\nid = "a"\nname = "A"\nurl = "https://a.example.org/feed"\nkind = "feed"\n'
        'org = "ngo"\n\n# what every source below shares\n[defaults]\ninterval = "2h"\n\n'
        '[[source]]\nid = "b"\nname = "B"\nurl = "https://b.example.org/feed"\nkind = "feed"\n'
        'org = "ngo"\n'
    )
    (tmp_path / "sources.toml").write_text(text, encoding="utf-8")
    entry = {"id": "c", "name": "C", "url": "https://c.example.org/feed", "kind": "feed",
             "org": "ngo"}  # fmt: skip
    added = append_sources(tmp_path, [entry])
    assert [s.id for s in added] == ["a", "b", "c"]
    after = (tmp_path / "sources.toml").read_text(encoding="utf-8")
    assert after.startswith(text)  # byte for byte, [defaults] where it was
    assert after[len(text) :].startswith('\n[[source]]\nid = "c"')


def test_append_through_a_symbolic_link_and_after_a_byte_order_mark(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere" / "sources.toml"
    real.parent.mkdir()
    text = '[[source]]\nid = "a"\nname = "A"\nurl = "https://a.example.org/feed"\nkind = "feed"\n'
    real.write_bytes(b"\xef\xbb\xbf" + (text + 'org = "ngo"\n').encode())
    config = tmp_path / "config"
    config.mkdir()
    (config / "sources.toml").symlink_to(real)
    entry = {"id": "b", "name": "B", "url": "https://b.example.org/feed", "kind": "feed",
             "org": "ngo"}  # fmt: skip
    assert [s.id for s in append_sources(config, [entry])] == ["a", "b"]
    assert (config / "sources.toml").is_symlink()  # the link kept, its target written
    assert real.read_bytes().startswith(b"\xef\xbb\xbf[[source]]")


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", "-journal"])
def test_sources_export_never_writes_over_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    # `sources export -o var/aggregator.sqlite` wrote the OPML over the whole archive, exit 0;
    # `export -o` refused the same name.
    folder = empty_config(tmp_path / "config")
    (folder / "sources.toml").write_text(
        '[[source]]\nid = "edri"\nname = "EDRi"\nurl = "https://edri.org/feed/"\n'
        'kind = "feed"\norg = "ngo"\n'
    )
    data = tmp_path / "var"
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(data))
    assert run(capsys, "--config", str(folder), "sources")[0] == 0  # makes the store
    store = data / "aggregator.sqlite"
    before = store.read_bytes()
    code, _, err = run(
        capsys, "--config", str(folder), "sources", "export", "-o", str(store) + suffix
    )
    assert code == 2
    assert "cannot write" in err and "store" in err
    assert store.read_bytes() == before


def test_a_feed_of_a_stored_source_no_longer_configured_takes_its_id_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sources.toml lost, restored from the tool's own OPML: every source came back as
    # "council-2", each item was stored twice, and the pruned ones returned.
    folder = empty_config(tmp_path / "config")
    (folder / "sources.toml").write_text(
        '[[source]]\nid = "council"\nname = "Council of the EU"\n'
        'url = "https://www.consilium.europa.eu/en/rss/pressreleases.ashx"\n'
        'kind = "feed"\norg = "institution"\n'
        '[[source]]\nid = "edri"\nname = "EDRi"\nurl = "https://edri.org/feed/"\n'
        'kind = "feed"\norg = "ngo"\n'
    )
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    assert run(capsys, "--config", str(folder), "sources")[0] == 0  # the store knows both
    backup = tmp_path / "backup.opml"
    assert run(capsys, "--config", str(folder), "sources", "export", "-o", str(backup))[0] == 0
    (folder / "sources.toml").write_text("# restored\n")
    code, out, _ = run(capsys, "--config", str(folder), "sources", "import", str(backup))
    assert code == 0, out
    assert {s.id for s in load_sources(folder)} == {"council", "edri"}
    assert "the stored source 'council' (removed from the config)" in out
    # A feed the store never had gets an id of its own, as before.
    other = tmp_path / "other.opml"
    other.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        '<outline type="rss" text="x" xmlUrl="https://example.org/new.xml"/></body></opml>'
    )
    code, out, _ = run(capsys, "--config", str(folder), "sources", "import", str(other))
    assert code == 0 and "removed from the config" not in out
