"""What `aggregator digest` tells the operator: why nothing was sent, where an email went
without an SMTP server, and that --send and --dry-run do not go together."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.cli import EXIT_CONFIG, EXIT_OK, main
from tests.support_config import write_config
from tests.support_schedule import RECIPIENT, Post, feed_source, rss, service_settings

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)


def _config(env: Path, http_server: FixtureServer, *, recipients: bool) -> Path:
    post = Post(
        guid="ecpat-1",
        title="ECPAT: survivors' letter to the Council",
        link="https://ecpat.org/news/survivors-letter/",
        text="Survivors of child sexual abuse wrote to the ministers before the Council meeting.",
        published=datetime.now(UTC) - timedelta(hours=1),
    )
    http_server.add("/ecpat.xml", body=rss("ECPAT", [post]))
    settings = service_settings(smtp_port=None)  # no [smtp]: emails go to the outbox folder
    if not recipients:
        settings = settings.replace(f'recipients = ["{RECIPIENT}"]\n', "")
    return write_config(
        env / "config", [feed_source("ecpat", http_server.url("/ecpat.xml"))], settings=settings
    )


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_without_smtp_the_email_is_said_to_go_to_the_outbox_folder(
    env: Path, http_server: FixtureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_config(env, http_server, recipients=True))
    assert _run(capsys, "--config", config, "refresh")[0] == EXIT_OK
    code, out, _ = _run(capsys, "--config", config, "digest", "--send")
    assert code == EXIT_OK
    outbox = env / "var" / "outbox"
    assert f": sent to {outbox} (no [smtp] configured)" in out
    assert len(list(outbox.glob("*.eml"))) == 1
    code, out, _ = _run(capsys, "--config", config, "digest", "--send")
    assert "email: nothing to send: the digest is empty (the profile's send_empty is off)" in out


def test_a_profile_without_recipients_is_named_as_the_reason(
    env: Path, http_server: FixtureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_config(env, http_server, recipients=False))
    assert _run(capsys, "--config", config, "refresh")[0] == EXIT_OK
    code, out, _ = _run(capsys, "--config", config, "digest", "--send")
    assert code == EXIT_OK
    assert "email: nothing to send: profile 'daily' has no recipients" in out


def test_a_dry_run_s_stdout_is_the_text_digest_alone(
    env: Path, http_server: FixtureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # `digest --dry-run > digest.txt` began with the summary line "digest daily: ...".
    config = str(_config(env, http_server, recipients=True))
    assert _run(capsys, "--config", config, "refresh")[0] == EXIT_OK
    code, out, err = _run(capsys, "--config", config, "digest", "--dry-run")
    assert code == EXIT_OK
    assert not out.startswith("digest daily:") and "digest daily:" not in out
    assert err.startswith("digest daily: ")


def test_send_and_dry_run_together_are_refused(
    env: Path, http_server: FixtureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_config(env, http_server, recipients=True))
    code, _, err = _run(capsys, "--config", config, "digest", "--send", "--dry-run")
    assert code == EXIT_CONFIG
    assert "--dry-run sends and writes nothing; it cannot be used with --send" in err


def test_a_preview_whose_files_cannot_be_written_is_no_failed_delivery(
    env: Path, http_server: FixtureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_config(env, http_server, recipients=True))
    assert _run(capsys, "--config", config, "refresh")[0] == EXIT_OK
    (env / "var").mkdir(parents=True, exist_ok=True)
    (env / "var" / "digests").write_text("a file where the folder goes")
    code, _, err = _run(capsys, "--config", config, "digest")
    assert code == 1
    assert "delivery failed" not in err
    assert err.startswith("aggregator: digest files not written: writing ")


def test_files_that_cannot_be_written_do_not_hide_the_email_that_went(
    env: Path, http_server: FixtureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # It said "delivery failed: ... its email sent, but its files could not be written",
    # and no summary: the email had gone.
    config = str(_config(env, http_server, recipients=True))
    assert _run(capsys, "--config", config, "refresh")[0] == EXIT_OK
    digests = env / "var" / "digests"
    digests.mkdir(parents=True, exist_ok=True)
    (digests / "daily").write_text("a file where the folder goes")
    code, out, err = _run(capsys, "--config", config, "digest", "--send")
    assert code == 1
    assert out.startswith("digest daily: 1 entry, 1 new item, 0 updated, from 1 source")
    assert ": sent to " in out
    assert len(list((env / "var" / "outbox").glob("*.eml"))) == 1
    assert "delivery failed" not in err
    assert err.startswith("aggregator: digest files not written: digest 'daily' was recorded")


def test_the_outbox_email_is_from_the_configured_sender_without_a_server(
    env: Path, http_server: FixtureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # smtp.sender is the From address (docs/settings.md); without smtp.host the outbox's
    # copy went out as aggregator@localhost all the same.
    config = _config(env, http_server, recipients=True)
    settings = config / "aggregator.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8")
        + '\n[smtp]\nsender = "Policy desk <desk@ngo.example>"\n',
        encoding="utf-8",
    )
    assert _run(capsys, "--config", str(config), "refresh")[0] == EXIT_OK
    assert _run(capsys, "--config", str(config), "digest", "--send")[0] == EXIT_OK
    (sent,) = (env / "var" / "outbox").glob("*.eml")
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    assert message["From"] == "Policy desk <desk@ngo.example>"
