"""Tag rules are checked when the app opens, and compiled there only if this text never was.

A warm refresh (every source 304) tags nothing, so an unchanged tags.toml that compiled
cleanly before is compiled on first use instead; a changed or broken one is still a config
error before anything is fetched.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from aggregator import rules_loader
from aggregator.app import App
from aggregator.cli import EXIT_CONFIG, main
from aggregator.errors import ConfigError
from aggregator.rules_loader import STAMP_FILE, RulesLoader
from tests.support_config import write_config

TAGS = Path(__file__).parent / "data" / "tags"
GOOD = (TAGS / "good.toml").read_text("utf-8")
BAD = (TAGS / "bad_regex.toml").read_text("utf-8")
BAD_LINE = next(n for n, line in enumerate(BAD.splitlines(), 1) if "# <-- error" in line)


def config(tmp_path: Path, tags: str) -> Path:
    settings = f'data_dir = "{tmp_path / "data"}"\n'
    return write_config(tmp_path / "config", [], settings=settings, tags=tags)


def open_app(folder: Path) -> App:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    return App.open(folder, env)


def test_first_open_compiles_and_stamps_later_opens_compile_on_first_use(tmp_path: Path) -> None:
    folder = config(tmp_path, GOOD)
    with open_app(folder) as app:
        assert app.tag_rules.loaded  # never compiled: checked (compiled) at open
    assert (tmp_path / "data" / "cache" / STAMP_FILE).is_file()
    with open_app(folder) as app:
        assert not app.tag_rules.loaded
        assert [t.name for t in app.rules.topics] == ["alpha", "beta"]  # compiled now
        assert app.tag_rules.loaded


def test_a_changed_file_is_checked_at_open_and_its_error_raised(tmp_path: Path) -> None:
    folder = config(tmp_path, GOOD)
    open_app(folder).close()
    (folder / "tags.toml").write_text(BAD, encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid regular expression") as caught:
        open_app(folder)
    assert caught.value.file == str(folder / "tags.toml")
    assert caught.value.line == BAD_LINE


def test_the_command_line_exits_with_the_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = config(tmp_path, GOOD)
    assert main(["--config", str(folder), "refresh"]) == 0  # no sources: nothing fails
    (folder / "tags.toml").write_text(BAD, encoding="utf-8")
    assert main(["--config", str(folder), "refresh"]) == EXIT_CONFIG
    assert f"tags.toml:{BAD_LINE}" in capsys.readouterr().err


def test_a_broken_file_is_never_stamped(tmp_path: Path) -> None:
    folder = config(tmp_path, BAD)
    for _ in range(2):
        with pytest.raises(ConfigError):
            open_app(folder)
    assert not (tmp_path / "data" / "cache" / STAMP_FILE).exists()


def test_a_change_to_the_tagger_compiles_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tagger = tmp_path / "tagger"
    tagger.mkdir()
    (tagger / "rules.py").write_text("# v1\n", encoding="utf-8")
    monkeypatch.setattr(rules_loader, "_TAGGER", tagger)
    folder = config(tmp_path, GOOD)
    cache = tmp_path / "cache"
    RulesLoader(folder, cache).check()
    unchanged = RulesLoader(folder, cache)
    unchanged.check()
    assert not unchanged.loaded
    (tagger / "rules.py").write_text("# v2: a new check\n", encoding="utf-8")
    changed = RulesLoader(folder, cache)
    changed.check()
    assert changed.loaded


def test_a_stamp_that_cannot_be_written_costs_only_the_shortcut(tmp_path: Path) -> None:
    folder = config(tmp_path, GOOD)
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache directory would go", encoding="utf-8")
    for _ in range(2):
        loader = RulesLoader(folder, blocked)
        loader.check()
        assert loader.loaded  # compiled at every check, as without a stamp
        assert [t.name for t in loader.get().topics] == ["alpha", "beta"]


def test_no_tags_file_means_automatic_tags_only(tmp_path: Path) -> None:
    folder = write_config(tmp_path / "config", [], settings=f'data_dir = "{tmp_path}"\n')
    loader = RulesLoader(folder, tmp_path / "cache")
    loader.check()
    assert loader.get().topics == ()
    assert not (tmp_path / "cache" / STAMP_FILE).exists()


def test_the_rules_compiled_later_are_the_text_checked_at_open(tmp_path: Path) -> None:
    # A service opened with a good file; someone breaks the file while it runs. The first item
    # to tag must get the rules that were checked, not an unchecked error mid-refresh.
    folder = config(tmp_path, GOOD)
    open_app(folder).close()  # compiled and stamped
    with open_app(folder) as app:
        assert not app.tag_rules.loaded
        (folder / "tags.toml").write_text(BAD, encoding="utf-8")
        assert [t.name for t in app.rules.topics] == ["alpha", "beta"]
    with pytest.raises(ConfigError):  # the next start checks the new text
        open_app(folder)


def test_the_text_sent_to_workers_is_the_text_checked_at_open(tmp_path: Path) -> None:
    # Parse workers compile the rules from the text the refreshing process read at open.
    folder = config(tmp_path, GOOD)
    open_app(folder).close()
    with open_app(folder) as app:
        (folder / "tags.toml").write_text(BAD, encoding="utf-8")
        sent = app.tag_rules.text()
        assert not app.tag_rules.loaded  # the refreshing process compiled nothing
    rules = pickle.loads(pickle.dumps(sent)).compile()
    assert [t.name for t in rules.topics] == ["alpha", "beta"]


def test_a_tags_file_that_is_not_utf8_is_a_config_error_at_open(tmp_path: Path) -> None:
    folder = config(tmp_path, GOOD)
    (folder / "tags.toml").write_bytes(GOOD.encode() + b"\n# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8") as caught:
        open_app(folder)
    assert caught.value.line == GOOD.count("\n") + 2
