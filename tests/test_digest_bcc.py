"""A profile's `bcc` addresses get the digest without being named to the other readers, and
a queued digest's retry goes to whom the profile names at the time of the retry: through the
command line, against aiosmtpd, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.cli import main
from aggregator.deliver.mail import UNDISCLOSED
from tests.support_config import write_config
from tests.support_schedule import RECIPIENT, Post, feed_source, rss, service_settings
from tests.support_smtp import SmtpServer, free_port

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

HIDDEN = ("Board <board@ngo.example>", "partner@other-ngo.example")


def _send(
    smtp: SmtpServer,
    tmp_path: Path,
    http_server: FixtureServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *,
    recipients_line: str,
) -> Path:
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("AGGREGATOR_CONFIG", raising=False)
    monkeypatch.delenv("AGGREGATOR_SMTP_HOST", raising=False)
    post = Post(
        guid="iwf-1",
        title="IWF: reports of AI-generated abuse imagery doubled",
        link="https://www.iwf.org.uk/news/ai-imagery",
        text="The Internet Watch Foundation found twice as many AI-generated images this year.",
        published=datetime.now(UTC) - timedelta(hours=2),
    )
    http_server.add("/iwf.xml", body=rss("IWF", [post]))
    settings = service_settings(smtp_port=smtp.port).replace(
        f'recipients = ["{RECIPIENT}"]', recipients_line
    )
    config = write_config(
        tmp_path / "config",
        [feed_source("iwf", http_server.url("/iwf.xml"))],
        settings=settings,
    )
    for argv in (["refresh"], ["digest", "--send"]):
        code = main(["--config", str(config), *argv])
        out, err = capsys.readouterr()
        assert code == 0, out + err
    return tmp_path / "var"


def test_bcc_addresses_get_the_digest_unnamed(
    tmp_path: Path,
    database_url: str,
    http_server: FixtureServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", database_url)
    hidden = ", ".join(f'"{address}"' for address in HIDDEN)
    with SmtpServer() as smtp:
        _send(
            smtp,
            tmp_path,
            http_server,
            monkeypatch,
            capsys,
            recipients_line=f'recipients = ["{RECIPIENT}"]\nbcc = [{hidden}]',
        )
        [got] = smtp.accepted
    assert got.rcpt_tos == [RECIPIENT, "board@ngo.example", "partner@other-ngo.example"]
    assert got.message["To"] == RECIPIENT
    assert got.message["Bcc"] is None
    assert b"board@" not in got.data and b"partner@" not in got.data
    body = got.message.get_body(("plain",))
    assert body is not None and "AI-generated abuse imagery doubled" in body.get_content()


def test_a_profile_with_bcc_alone_is_sent_to_undisclosed_recipients(
    tmp_path: Path,
    database_url: str,
    http_server: FixtureServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", database_url)
    with SmtpServer() as smtp:
        data_dir = _send(
            smtp,
            tmp_path,
            http_server,
            monkeypatch,
            capsys,
            recipients_line='bcc = ["partner@other-ngo.example"]',
        )
        [got] = smtp.accepted
    assert got.rcpt_tos == ["partner@other-ngo.example"]
    assert got.message["To"] == UNDISCLOSED
    assert got.message["Bcc"] is None and b"partner@" not in got.data
    assert list((data_dir / "digests" / "daily").glob("*.html"))


def test_a_bcc_address_is_checked_like_a_recipient(tmp_path: Path) -> None:
    settings = service_settings(smtp_port=2525).replace(
        f'recipients = ["{RECIPIENT}"]', 'bcc = ["not an address"]'
    )
    config = write_config(tmp_path / "config", [], settings=settings)
    assert main(["--config", str(config), "sources", "check"]) == 2


def test_a_retry_goes_to_the_recipients_configured_now(
    tmp_path: Path,
    database_url: str,
    http_server: FixtureServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The SMTP server was down at the first send; the profile's recipients changed before
    # the retry, which went to the old ones all the same.
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", database_url)
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("AGGREGATOR_CONFIG", raising=False)
    monkeypatch.delenv("AGGREGATOR_SMTP_HOST", raising=False)
    post = Post(
        guid="iwf-1",
        title="IWF: reports of AI-generated abuse imagery doubled",
        link="https://www.iwf.org.uk/news/ai-imagery",
        text="The Internet Watch Foundation found twice as many AI-generated images this year.",
        published=datetime.now(UTC) - timedelta(hours=2),
    )
    http_server.add("/iwf.xml", body=rss("IWF", [post]))
    sources = [feed_source("iwf", http_server.url("/iwf.xml"))]
    config = write_config(
        tmp_path / "config", sources, settings=service_settings(smtp_port=free_port())
    )
    assert main(["--config", str(config), "refresh"]) == 0
    assert main(["--config", str(config), "digest", "--send"]) == 1
    assert ": not sent, queued for the next run (smtp 127.0.0.1:" in capsys.readouterr().out

    with SmtpServer() as smtp:
        settings = service_settings(smtp_port=smtp.port).replace(
            f'recipients = ["{RECIPIENT}"]', 'recipients = ["desk@ngo.example"]'
        )
        write_config(tmp_path / "config", sources, settings=settings)
        code = main(["--config", str(config), "digest", "--send"])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        [got] = smtp.accepted
    assert got.rcpt_tos == ["desk@ngo.example"] and got.message["To"] == "desk@ngo.example"
    body = got.message.get_body(("plain",))
    assert body is not None and "AI-generated abuse imagery doubled" in body.get_content()
