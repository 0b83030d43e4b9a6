"""The issue's "done when", end to end through the command line: against the test HTTP
server, two refreshes and `aggregator digest --send` produce one email (received by
aiosmtpd) whose groups follow the tags and whose HTML holds no script; a second
`digest --send` in the same window sends nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.cli import main
from tests.support_schedule import RECIPIENT, Post, feed_source, rss, service_config
from tests.support_smtp import SmtpServer

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)

TAGS = """
[tag.csar]
label = "CSA Regulation"
[[tag.csar.rule]]
any = ["CSA Regulation", "chat control"]

[tag.age-verification]
label = "Age verification"
[[tag.age-verification.rule]]
any = ["age verification"]
"""
# Not alphabetical, so the test tells "follows the config" from "sorted".
TOPIC_ORDER = ("age-verification", "csar")

STATEMENT = (
    "We, the undersigned organisations working to protect children, call on the European "
    "Parliament, the Council and the Commission to conclude the negotiations on the CSA "
    "Regulation before the end of the year. Every day of delay leaves survivors without a way "
    "to have images of their abuse removed, and leaves companies without a clear legal basis "
    "to find and report abuse on their services. A permanent framework with an independent EU "
    "Centre and detection as a last resort under judicial oversight is proportionate."
)
STATEMENT_TITLE = "Joint statement: agree the CSA Regulation now"
AGE_TITLE = "Commission publishes the second age verification blueprint"
OTHER_TITLE = "Annual report on hotline cooperation published"


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    emails: list[EmailMessage]
    second_send_output: str
    preview_output: str
    files: dict[str, str]  # the digest folder's files, by name
    html: str
    text: str


def publish(server: FixtureServer, now: datetime) -> list[dict[str, object]]:
    def statement(base: str, intro: str, hours: int) -> Post:
        return Post(
            guid=f"{base}/joint",
            title=STATEMENT_TITLE,
            link=f"{base}/joint",
            text=f"{intro} {STATEMENT}",
            published=now - timedelta(hours=hours),
        )

    ngo_a = statement("https://ngo-a.example", "NGO A signed this statement today.", 5)
    council = statement("https://council.example", "The Council received this letter.", 4)
    ngo_b = statement("https://ngo-b.example", "NGO B and its members support this call.", 3)
    age = Post(
        guid="age-1",
        title=AGE_TITLE,
        link="https://press.example/age",
        text="The Commission published the second version of its age verification blueprint. "
        "<script>alert('x')</script>Pilots start in five more member states.",
        published=now - timedelta(hours=6),
    )
    other = Post(
        guid="other-1",
        title=OTHER_TITLE,
        link="https://press.example/hotlines",
        text="Hotlines in 50 countries exchanged more reports than ever before this year.",
        published=now - timedelta(hours=2),
    )
    server.add("/ngo-a.xml", body=rss("NGO A", [ngo_a]))
    server.add("/council.xml", body=rss("Council", [council]))
    server.add("/press.xml", body=rss("Press", [age]), times=1)
    server.add("/press.xml", body=rss("Press", [other, age]))
    # NGO B publishes the statement only between the two refreshes: it must join the
    # entry the first refresh made, not start a new one.
    server.add("/ngo-b.xml", body=rss("NGO B", []), times=1)
    server.add("/ngo-b.xml", body=rss("NGO B", [ngo_b]))
    return [
        feed_source("ngo-a", server.url("/ngo-a.xml")),
        feed_source("council", server.url("/council.xml"), org="institution"),
        feed_source("press", server.url("/press.xml"), org="press"),
        feed_source("ngo-b", server.url("/ngo-b.xml")),
    ]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, out + err
    return out


@pytest.fixture()
def outcome(
    tmp_path: Path,
    database_url: str,
    http_server: FixtureServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Outcome:
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", database_url)
    monkeypatch.delenv("AGGREGATOR_CONFIG", raising=False)
    monkeypatch.delenv("AGGREGATOR_SMTP_HOST", raising=False)
    with SmtpServer() as smtp:
        config = service_config(
            tmp_path / "config",
            publish(http_server, datetime.now(UTC)),
            smtp_port=smtp.port,
            tags=TAGS,
            topic_order=TOPIC_ORDER,
        )
        run_cli(capsys, "--config", str(config), "refresh")
        run_cli(capsys, "--config", str(config), "refresh")
        run_cli(capsys, "--config", str(config), "digest", "--send")
        second = run_cli(capsys, "--config", str(config), "digest", "--send")
        preview = run_cli(capsys, "--config", str(config), "digest")
        emails = [received.message for received in smtp.accepted]
    folder = tmp_path / "var" / "digests" / "daily"
    assert len(emails) == 1, f"{len(emails)} emails for one window"
    html_part, text_part = emails[0].get_body(("html",)), emails[0].get_body(("plain",))
    assert html_part is not None and text_part is not None
    return Outcome(
        emails=emails,
        second_send_output=second,
        preview_output=preview,
        files={path.name: path.read_text(encoding="utf-8") for path in folder.iterdir()},
        html=html_part.get_content(),
        text=text_part.get_content(),
    )


def test_two_refreshes_and_digest_send_make_one_email_grouped_by_tag_without_script(
    outcome: Outcome,
) -> None:
    (email,) = outcome.emails
    assert email.get_content_type() == "multipart/alternative"
    assert email["To"] == RECIPIENT
    assert "<script" not in outcome.html.lower()
    assert "alert(" not in outcome.html
    for title in (STATEMENT_TITLE, AGE_TITLE, OTHER_TITLE):
        assert title in outcome.text
    # Groups in the configured topic order, then "Other".
    headings = [outcome.html.index(h) for h in ("Age verification", "CSA Regulation", "Other")]
    assert headings == sorted(headings)
    assert outcome.html.index(AGE_TITLE) < outcome.html.index(STATEMENT_TITLE)
    assert outcome.html.index(STATEMENT_TITLE) < outcome.html.index(OTHER_TITLE)
    # The second send in the same window: nothing new, nothing sent.
    assert (
        "email: nothing to send: the digest is empty (the profile's send_empty is off)"
        in outcome.second_send_output
    )


def test_later_runs_of_the_day_keep_the_files_of_the_digest_that_was_sent(
    outcome: Outcome,
) -> None:
    # The empty second run did not overwrite them, and the preview went beside them.
    [sent_text] = [
        text for name, text in outcome.files.items() if re.fullmatch(r"[\d-]{10}\.txt", name)
    ]
    assert STATEMENT_TITLE in sent_text
    [preview] = [name for name in outcome.files if name.endswith("-preview.txt")]
    assert preview in outcome.preview_output


def test_the_email_folds_the_statement_published_three_times(outcome: Outcome) -> None:
    assert outcome.text.count(STATEMENT_TITLE) == 1
    assert "3 sources" in outcome.text
    assert "Also published by:" in outcome.text
    # The institution's copy leads the entry: "institutions first".
    entry = outcome.text[outcome.text.index(STATEMENT_TITLE) :]
    assert entry.split("\n", 2)[1].strip().startswith("COUNCIL")
