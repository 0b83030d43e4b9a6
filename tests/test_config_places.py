"""Config problems said of the place the operator has to change (a review of the config
files): a data_dir the OS will not make, two sources of one URL, no sources at all,
sources.toml that is a folder, a CORS origin that is no origin, lines and indexes inside
nested tables, `sources add` refusing a bad --id before fetching, and a missing limiter said
of where the broker was set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.cli import EXIT_CONFIG, EXIT_OK, main
from aggregator.errors import ConfigError
from tests.support_config import write_config

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

FEED = Path(__file__).parent / "data" / "parse" / "europarl_press_rss.xml"


@pytest.fixture()
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config of one file:// feed, with nothing set in the environment."""
    for variable in ("AGGREGATOR_DATA_DIR", "AGGREGATOR_DATABASE_URL", "AGGREGATOR_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)
    source = {"id": "ep", "name": "EP", "url": FEED.as_uri(), "kind": "feed", "org": "ngo"}
    return write_config(tmp_path / "config", [source])


def run(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    return code, out, err


# 1. a data_dir the OS will not make


@pytest.fixture()
def dangling(tmp_path: Path) -> Path:
    """A symbolic link to nothing: no folder can be made there, whoever runs the test."""
    link = tmp_path / "var"
    link.symlink_to(tmp_path / "gone" / "away")
    return link


def test_a_data_dir_that_cannot_be_made_is_a_config_error_naming_its_line(
    config: Path, dangling: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config / "aggregator.toml").write_text(
        f'# where the store lives\ndata_dir = "{dangling}"\n', encoding="utf-8"
    )
    code, _, err = run(capsys, config, "refresh")
    assert code == EXIT_CONFIG, err
    assert f"{config / 'aggregator.toml'}:2: data_dir: cannot create data_dir '{dangling}'" in err
    assert "File exists" in err and "symbolic link" in err
    assert "store error" not in err


def test_a_data_dir_from_the_environment_that_cannot_be_made_names_the_variable(
    config: Path,
    dangling: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(dangling))
    code, _, err = run(capsys, config, "refresh")
    assert code == EXIT_CONFIG, err
    assert f"environment: AGGREGATOR_DATA_DIR: cannot create data_dir '{dangling}'" in err


def test_a_data_dir_name_too_long_is_a_config_error_not_an_output_failure(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The check of the setting itself met ENAMETOOLONG and ended as "cannot write the
    # output" (exit 120), from `sources check` too.
    (config / "aggregator.toml").write_text(
        f'data_dir = "{tmp_path / ("x" * 300)}"\n', encoding="utf-8"
    )
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_CONFIG, err
    assert f"{config / 'aggregator.toml'}:1: data_dir:" in err
    assert "File name too long" in err


def test_sources_check_says_of_a_data_dir_what_the_refresh_would_and_makes_nothing(
    config: Path, dangling: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `sources check` said ok where every other command then refused the folder (exit 2).
    (config / "aggregator.toml").write_text(f'data_dir = "{dangling}"\n', encoding="utf-8")
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_CONFIG, err
    assert f"{config / 'aggregator.toml'}:1: data_dir: cannot create data_dir" in err
    # A folder to be made is made by the first command, not by the check.
    wanted = tmp_path / "not" / "yet" / "var"
    (config / "aggregator.toml").write_text(f'data_dir = "{wanted}"\n', encoding="utf-8")
    code, out, err = run(capsys, config, "sources", "check")
    assert code == EXIT_OK, err
    assert "ok: 1 source" in out
    assert not (tmp_path / "not").exists()


# 2. two sources of one URL; 3. no source at all


def two_of_one_url(config: Path) -> None:
    source = {"name": "A", "kind": "feed", "org": "ngo"}
    write_config(
        config,
        [
            {"id": "first", **source, "url": "https://Example.org:443/feed/?utm_source=x#top"},
            {"id": "other", **source, "url": "https://example.org/other"},
            {"id": "again", **source, "url": "https://example.org/feed"},
        ],
    )


def test_sources_check_warns_of_two_sources_of_one_file_however_its_url_is_written(
    config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    feed = tmp_path / "heise.atom"
    source = {"name": "A", "kind": "feed", "org": "press"}
    write_config(
        config,
        [
            {"id": "plain", **source, "url": f"file://{feed}"},
            {"id": "encoded", **source, "url": f"file://{tmp_path}/he%69se.atom"},
            {"id": "dotted", **source, "url": f"file://{tmp_path}/./heise.atom"},
            {"id": "local", **source, "url": f"file://localhost{feed}"},
        ],
    )
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_OK, err
    assert "source 'encoded' has the URL of source 'plain'" in err
    assert "source 'dotted' has the URL of source 'plain'" in err
    assert "source 'local' has the URL of source 'plain'" in err


def test_the_two_sources_of_one_url_warning_masks_a_password(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = {"name": "A", "kind": "feed", "org": "ngo"}
    write_config(
        config,
        [
            {"id": "one", **source, "url": "https://example.org/feed"},
            {"id": "two", **source, "url": "https://user:pw@example.org/feed"},
        ],
    )
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_OK, err
    assert "https://user:***@example.org/feed" in err and ":pw@" not in err


def test_sources_check_warns_of_two_sources_of_one_url_naming_both(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_of_one_url(config)  # the same URL once canonical (aggregator/urls.py)
    code, out, err = run(capsys, config, "sources", "check")
    assert code == EXIT_OK, err  # a warning: a page read with two sets of selectors is a choice
    assert "ok: 3 sources" in out
    text = (config / "sources.toml").read_text(encoding="utf-8")
    first, _, again = [n for n, row in enumerate(text.split("\n"), 1) if row.startswith("url")]
    assert (
        f"aggregator: warning: {config / 'sources.toml'}:{again}: source[2].url: source 'again'"
        f" has the URL of source 'first' (line {first})"
    ) in err
    code, out, _ = run(capsys, config, "sources", "check", "--json")
    [warning] = json.loads(out)["warnings"]
    assert "'again'" in warning and "'first'" in warning


def test_loading_logs_the_warning_too(
    config: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from aggregator.app import App

    two_of_one_url(config)
    App.open(config, {"AGGREGATOR_DATA_DIR": str(config.parent / "var")}).close()
    [record] = [r for r in caplog.records if r.name == "aggregator.app"]
    assert record.levelname == "WARNING"
    assert "source 'again' has the URL of source 'first'" in record.getMessage()


def test_no_sources_is_said_by_sources_check_and_by_refresh(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config / "sources.toml").write_text('[defaults]\ninterval = "2h"\n', encoding="utf-8")
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_OK, err
    assert f"warning: {config / 'sources.toml'}: no sources configured" in err
    code, out, err = run(capsys, config, "refresh")
    assert code == EXIT_OK, err
    assert out.strip() == "nothing to refresh: no source is configured in sources.toml"


# 4. a config file that is a folder


@pytest.mark.parametrize("name", ["sources.toml", "aggregator.toml", "tags.toml"])
def test_a_config_file_that_is_a_folder_is_said_to_be_one(
    name: str, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sources.toml said "file not found"; aggregator.toml and tags.toml were skipped, as if
    # absent, and the defaults used without a word.
    target = config / name
    target.unlink(missing_ok=True)
    target.mkdir()
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_CONFIG, err
    assert f"{target}: " in err
    assert "not found" not in err
    assert "is a folder, not a file" in err or "Is a directory" in err


# 5. api.cors_origins: origins, as a browser sends them


@pytest.mark.parametrize(
    ("origin", "problem"),
    [
        ("https://app.example/dashboard", "has a path"),
        ("https://app.example/", "has a path"),
        ("app.example", "no scheme://host"),
        ("https://App.example", "upper-case"),
        ("https://app.example:443", "default port"),
    ],
)
def test_a_cors_origin_that_no_browser_sends_is_a_config_error_with_its_line(
    origin: str, problem: str, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Compared as text with the Origin header, each of these matched nothing: the browser's
    # calls were refused, and nothing was said at start.
    (config / "aggregator.toml").write_text(
        f'[api]\nport = 8080\ncors_origins = [\n  "http://localhost:3000",\n  "{origin}",\n]\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_CONFIG, err
    # The line of the origin itself, not of `cors_origins = [`.
    assert f"{config / 'aggregator.toml'}:5: api.cors_origins[1]: " in err
    assert problem in err and "scheme://host[:port]" in err


def test_cors_origins_as_a_browser_sends_them_are_accepted(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config / "aggregator.toml").write_text(
        '[api]\ncors_origins = ["*", "http://localhost:3000", "https://app.example",'
        ' "http://[::1]:8080"]\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, config, "sources", "check")
    assert (code, err) == (EXIT_OK, "")


# 7. `sources add`: the arguments checked before the network


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (["--id", "Bad Id"], "sources add --id 'Bad Id': invalid id 'Bad Id' (expected lower-case"),
        (["--tag", "ok", "--tag", "Youth"], "sources add --tag 'Youth': invalid tag 'Youth'"),
    ],
)
def test_sources_add_refuses_a_bad_id_or_tag_before_fetching_anything(
    option: list[str],
    said: str,
    http_server: FixtureServer,
    config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = http_server.add("/feed/", body=FEED.read_bytes(), content_type="application/rss+xml")
    before = (config / "sources.toml").read_text(encoding="utf-8")
    code, _, err = run(capsys, config, "sources", "add", url, *option)
    assert code == EXIT_CONFIG, err
    assert said in err
    assert http_server.requests() == []  # it was said after discovery had fetched the page
    assert (config / "sources.toml").read_text(encoding="utf-8") == before


# 8. a limiter required by the broker: said of where the broker was set


AMQP = "amqp://guest:secret@127.0.0.1:5672/"


def test_a_missing_limiter_is_said_of_the_variable_that_set_the_broker(config: Path) -> None:
    from aggregator.settings import load_settings
    from aggregator.worker import limiter_url

    env = {"AGGREGATOR_BROKER_URL": AMQP}
    with pytest.raises(ConfigError) as caught:
        limiter_url(load_settings(config, env), env)
    error = caught.value
    assert (error.file, error.line, error.key) == ("environment", None, "AGGREGATOR_BROKER_URL")
    assert "workers.limiter_url is required" in str(error) and "secret" not in str(error)


def test_a_missing_limiter_is_said_of_the_line_that_set_the_broker(config: Path) -> None:
    from aggregator.settings import load_settings
    from aggregator.worker import limiter_url

    (config / "aggregator.toml").write_text(
        f'[workers]\n# RabbitMQ\nbroker_url = "{AMQP}"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        limiter_url(load_settings(config, {}), {})
    error = caught.value
    assert (error.file, error.line) == (str(config / "aggregator.toml"), 3)
    assert error.key == "workers.broker_url"
    assert "AGGREGATOR_LIMITER_URL" in str(error)


# 6. lines and indexes inside nested tables


def test_a_line_separator_in_a_value_does_not_shift_later_lines(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # U+2028 and U+0085 (NEL, what a cp1252 "…" read as Latin-1 becomes) end no TOML line:
    # each moved every later line number by one.
    (config / "sources.toml").write_text(
        '[[source]]\nid = "a"\nname = "A\u2028B\x85C"\nurl = "https://example.org/a"\n'
        'kind = "html"\norg = "ngo"\n[source.selectors]\nitem = "li"\ntitle = "h3"\n'
        'link = "a"\nbogus = 1\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_CONFIG, err
    assert f"{config / 'sources.toml'}:11: source[0].selectors.bogus: unknown key" in err


def test_a_key_missing_from_a_table_written_with_dotted_keys_is_said_where_it_begins(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config / "sources.toml").write_text(
        '[[source]]\nid = "a"\nname = "A"\nurl = "https://example.org/a"\nkind = "feed"\n'
        'org = "ngo"\n\n[[source]]\nid = "b"\nname = "B"\nurl = "https://example.org/b"\n'
        'kind = "html"\norg = "ngo"\nselectors.item = "li"\nselectors.title = "h3"\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_CONFIG, err
    # Line 8, the [[source]] header, before.
    assert f"{config / 'sources.toml'}:14: source[1].selectors.link: missing required key" in err


def test_indexes_count_from_zero_in_tags_toml_as_in_sources_toml(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config / "tags.toml").write_text(
        '[tag.csar]\nlabel = "CSAR"\n\n[[tag.csar.rule]]\nany = ["chat control"]\n\n'
        '[[tag.csar.rule]]\nany = ["re:("]\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_CONFIG, err
    # The second rule, as source[1] is the second source; it said rule[2].
    assert f"{config / 'tags.toml'}:8: tag.csar.rule[1].any" in err


def test_a_line_separator_in_tags_toml_does_not_shift_later_lines(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config / "tags.toml").write_text(
        '[tag.csar]\nlabel = "CSAR\u2028Regulation"\n\n[[tag.csar.rule]]\nany = ["re:("]\n',
        encoding="utf-8",
    )
    code, _, err = run(capsys, config, "sources", "check")
    assert code == EXIT_CONFIG, err
    assert f"{config / 'tags.toml'}:5: tag.csar.rule[0].any" in err
