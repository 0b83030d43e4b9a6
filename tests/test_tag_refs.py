"""Tags named in aggregator.toml must be defined: a typo made a digest silently empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.cli import EXIT_CONFIG, EXIT_OK, main
from tests.support_config import write_config

TAGS = """
[tag.csar]
label = "CSA Regulation"
[[tag.csar.rule]]
any = ["chat control"]

[tag.encryption]
label = "Encryption"
[[tag.encryption.rule]]
any = ["encryption"]
"""
SOURCE = {
    "id": "edri",
    "name": "EDRi",
    "url": "https://edri.org/feed/",
    "kind": "feed",
    "org": "ngo",
    "tags": ["digital-rights"],
}


@pytest.mark.parametrize(
    ("settings", "line", "key", "problem"),
    [
        (
            'log_level = "INFO"\n[digest]\ntopic_order = ["csar", "encrypton"]\n',
            3,
            "digest.topic_order[1]",
            "unknown tag 'encrypton'; did you mean 'encryption'?",
        ),
        (
            '[digest.profiles.weekly]\ninclude_tags = ["csr"]\n',
            2,
            "digest.profiles.weekly.include_tags[0]",
            "unknown tag 'csr'; did you mean 'csar'?",
        ),
        (
            '[digest.profiles.daily]\nexclude_tags = ["nope"]\n',
            2,
            "digest.profiles.daily.exclude_tags[0]",
            "unknown tag 'nope'",
        ),
        (
            # An array spanning lines: the line of the tag, not of `topic_order = [`.
            '[digest]\ntopic_order = [\n  "csar",\n  "encrypton",\n]\n',
            4,
            "digest.topic_order[1]",
            "unknown tag 'encrypton'; did you mean 'encryption'?",
        ),
    ],
    ids=["topic_order", "include_tags", "exclude_tags", "topic_order-spanning-lines"],
)
def test_an_undefined_tag_is_a_config_error_with_its_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    settings: str,
    line: int,
    key: str,
    problem: str,
) -> None:
    config = write_config(tmp_path / "config", [SOURCE], settings=settings, tags=TAGS)
    assert main(["--config", str(config), "sources", "check"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.startswith(f"aggregator: {config / 'aggregator.toml'}:{line}: {key}: {problem}")
    assert "expected a topic defined in tags.toml, or a tag a source sets" in err


def test_topics_and_a_source_s_own_tags_are_known(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = (
        '[digest]\ntopic_order = ["encryption", "csar"]\n'
        '[digest.profiles.daily]\ninclude_tags = ["csar", "digital-rights"]\n'
    )
    config = write_config(env / "config", [SOURCE], settings=settings, tags=TAGS)
    assert main(["--config", str(config), "sources", "check"]) == EXIT_OK
    assert main(["--config", str(config), "sources", "--json"]) == EXIT_OK


def test_a_profile_may_select_by_automatic_tags(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = (
        "[digest.profiles.de]\n"
        'include_tags = ["lang:de", "org:ngo", "source:edri", "procedure:2022/0155(COD)",'
        ' "stage:1st-reading", "event:plenary-vote", "status:completed"]\n'
        'exclude_tags = ["kind:html"]\n'
    )
    config = write_config(env / "config", [SOURCE], settings=settings, tags=TAGS)
    assert main(["--config", str(config), "sources", "check"]) == EXIT_OK


@pytest.mark.parametrize(
    ("tag", "where"),
    [
        ("lang:zz", "include_tags"),  # no such language
        ("org:thinktank", "include_tags"),  # no such organisation kind
        ("source:iwf", "exclude_tags"),  # no such source in the config
        ("LANG:de", "include_tags"),  # tag names are lower case
        ("country:DE", "include_tags"),
        # procedure tags as the tagger writes them, and stages and events procedures have
        ("procedure:2025-0260", "include_tags"),
        ("procedure:hello", "exclude_tags"),
        ("stage:bogus", "include_tags"),
        ("event:bogus", "include_tags"),
        ("status:open", "include_tags"),
    ],
)
def test_an_automatic_tag_that_cannot_occur_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tag: str, where: str
) -> None:
    settings = f'[digest.profiles.de]\n{where} = ["{tag}"]\n'
    config = write_config(tmp_path / "config", [SOURCE], settings=settings, tags=TAGS)
    assert main(["--config", str(config), "sources", "check"]) == EXIT_CONFIG
    assert f"digest.profiles.de.{where}[0]" in capsys.readouterr().err


def test_sections_are_topics_not_automatic_tags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path / "config", [SOURCE], settings='[digest]\ntopic_order = ["lang:de"]\n', tags=TAGS
    )
    assert main(["--config", str(config), "sources", "check"]) == EXIT_CONFIG
    assert "digest.topic_order[0]" in capsys.readouterr().err


def test_an_automatic_tag_in_capitals_is_told_its_lower_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = {**SOURCE, "country": "DE"}
    settings = '[digest.profiles.de]\ninclude_tags = ["country:DE"]\n'
    config = write_config(tmp_path / "config", [source], settings=settings, tags=TAGS)
    assert main(["--config", str(config), "sources", "check"]) == EXIT_CONFIG
    assert "unknown tag 'country:DE'; did you mean 'country:de'?" in capsys.readouterr().err


def test_a_procedure_tag_spelled_otherwise_is_told_how_tags_write_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It could never match: the tag is always "procedure:NNNN/NNNN(XXX)", and the digest was
    # silently empty.
    settings = '[digest.profiles.omnibus]\ninclude_tags = ["procedure:2025/0260(cod)"]\n'
    config = write_config(tmp_path / "config", [SOURCE], settings=settings, tags=TAGS)
    assert main(["--config", str(config), "sources", "check"]) == EXIT_CONFIG
    assert (
        "unknown tag 'procedure:2025/0260(cod)'; did you mean 'procedure:2025/0260(COD)'?"
        in capsys.readouterr().err
    )
