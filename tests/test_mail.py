"""The digest email and its transports, against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from aggregator.deliver.mail import (
    PartiallyRefused,
    PermanentlyRefused,
    SmtpTransport,
    as_bytes,
    build_message,
    envelope,
    message_id,
    subject,
    without_bcc,
)
from aggregator.deliver.outbox import EmlFolder
from aggregator.deliver.render import render_html, render_text
from aggregator.digest import Digest, ProcedureLine, ProcedureStatus
from aggregator.errors import DeliveryError
from tests.support_digest import sample_digest
from tests.support_smtp import USER, UTF8_PASSWORD, SmtpServer, free_port
from tests.support_smtp import certificate as certificate
from tests.support_smtp import client_tls as client_tls
from tests.support_smtp import smtp_server as smtp_server

SENDER = "Digest <digest@aggregator.example>"
RECIPIENTS = ("policy@ngo.example", "Press Desk <press@ngo.example>")


def message_for(digest: Digest) -> EmailMessage:
    return build_message(
        digest,
        sender=SENDER,
        recipients=RECIPIENTS,
        subject_prefix="[CSA watch]",
        text=render_text(digest),
        html=render_html(digest),
    )


def parse(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=default_policy).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_message_is_multipart_alternative_text_then_html() -> None:
    digest = sample_digest()
    msg = parse(as_bytes(message_for(digest)))
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert text.get_content().replace("\r\n", "\n") == render_text(digest)
    assert "prefers-color-scheme" in html.get_content()


def test_headers_subject_date_list_id() -> None:
    msg = message_for(sample_digest())
    assert msg["Subject"] == "[CSA watch] 2025-03-04: 4 statements from 5 sources, 1 updated"
    date = parsedate_to_datetime(str(msg["Date"]))
    assert date.utcoffset() == timedelta(hours=1)  # Brussels in March, not UTC
    assert date.hour == 7
    assert msg["List-Id"] == '"daily digest" <daily.digest.aggregator.example>'
    assert msg["To"] == "policy@ngo.example, Press Desk <press@ngo.example>"


@pytest.mark.parametrize("extra", range(0, 40, 3))
def test_a_subject_of_any_length_reads_back_as_written(extra: int) -> None:
    # 70 to 77 characters were folded right after "Subject:" by the standard library, and
    # came back with a leading space: a mail filter on the prefix missed the digest.
    digest = sample_digest()
    prefix = "[CSA online]" + "x" * extra
    message = build_message(
        digest,
        sender=SENDER,
        recipients=RECIPIENTS,
        subject_prefix=prefix,
        text=render_text(digest),
        html=render_html(digest),
    )
    raw = as_bytes(message)
    assert parse(raw)["Subject"] == message["Subject"]
    assert parse(raw)["Subject"].startswith(prefix)
    header_lines = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert max(len(line) for line in header_lines) <= 100


def test_a_subject_counts_procedure_events_too() -> None:
    event = ProcedureLine(
        item_id=9, day=datetime(2025, 3, 3, tzinfo=UTC), event="committee vote", url=None
    )
    procedure = ProcedureStatus(
        source_id="csar-procedure",
        name="CSA Regulation",
        reference="2022/0155(COD)",
        events=(event, replace(event, item_id=10, event="plenary debate")),
        stage="1st reading",
        latest=event,
    )
    digest = sample_digest()
    assert subject(replace(digest, procedures=(procedure,)), "[t]") == (
        "[t] 2025-03-04: 4 statements from 5 sources, 2 procedure events, 1 updated"
    )
    # Procedures alone: not "0 statements from 0 sources", which reads as an empty email.
    alone = replace(digest, groups=(), procedures=(procedure,))
    assert subject(alone, "[t]") == "[t] 2025-03-04: 2 procedure events"


def test_message_id_is_stable_per_profile_and_window() -> None:
    digest = sample_digest()
    first = message_id(digest, SENDER)
    assert first.startswith("<digest.daily.20250304T060000Z.")
    assert first.endswith("@aggregator.example>")
    # Rebuilt later (a retry), with other content: the same window gives the same id.
    assert message_id(replace(digest, groups=()), SENDER) == first
    assert message_for(digest)["Message-ID"] == first
    later = replace(digest, window_end=digest.window_end + timedelta(days=1))
    assert message_id(later, SENDER) != first
    assert message_id(replace(digest, profile="weekly"), SENDER) != first


def test_no_recipients_is_an_error() -> None:
    with pytest.raises(DeliveryError, match="no recipients"):
        build_message(
            sample_digest(), sender=SENDER, recipients=(), subject_prefix="", text="", html=""
        )


def test_bcc_names_the_envelope_but_is_not_sent() -> None:
    hidden = ("Board Member <board@ngo.example>", "partner@other-ngo.example")
    long_names = tuple(f"Member {n} of the board <m{n}@ngo.example>" for n in range(8))
    digest = sample_digest()
    message = build_message(
        digest,
        sender=SENDER,
        recipients=RECIPIENTS,
        subject_prefix="",
        text=render_text(digest),
        html=render_html(digest),
        bcc=(*hidden, *long_names),
    )
    raw = as_bytes(message)  # what the outbox keeps: the Bcc header, folded over lines
    assert raw.count(b"\r\n ") >= 2
    assert envelope(raw)[1] == [
        "policy@ngo.example",
        "press@ngo.example",
        "board@ngo.example",
        "partner@other-ngo.example",
        *(f"m{n}@ngo.example" for n in range(8)),
    ]
    sent = without_bcc(raw)
    assert b"board@" not in sent and b"m7@" not in sent
    parsed = parse(sent)
    assert parsed["Bcc"] is None and parsed["To"] == message["To"]
    assert parsed["Message-ID"] == message["Message-ID"]
    assert sent.partition(b"\r\n\r\n")[2] == raw.partition(b"\r\n\r\n")[2]


def test_an_address_given_twice_gets_one_copy(smtp_server: SmtpServer) -> None:
    digest = sample_digest()
    message = build_message(
        digest,
        sender=SENDER,
        recipients=("team@ngo.example", "Team <TEAM@ngo.example>"),
        subject_prefix="",
        text=render_text(digest),
        html=render_html(digest),
        bcc=("team@ngo.example", "dup@ngo.example", "Dup <dup@ngo.example>"),
    )
    assert envelope(as_bytes(message))[1] == ["team@ngo.example", "dup@ngo.example"]
    SmtpTransport(smtp_server.settings()).send(as_bytes(message))
    [got] = smtp_server.accepted
    assert got.rcpt_tos == ["team@ngo.example", "dup@ngo.example"]


def test_send_plain_smtp(smtp_server: SmtpServer) -> None:
    msg = message_for(sample_digest())
    SmtpTransport(smtp_server.settings()).send(as_bytes(msg))
    [got] = smtp_server.accepted
    assert got.mail_from == "digest@aggregator.example"
    assert got.rcpt_tos == ["policy@ngo.example", "press@ngo.example"]
    assert got.message["Message-ID"].strip() == msg["Message-ID"]
    assert got.message["Subject"] == msg["Subject"]


def test_send_starttls_with_auth(
    certificate: tuple[Path, Path], client_tls: ssl.SSLContext
) -> None:
    with SmtpServer(security="starttls", auth=True, cert=certificate) as server:
        SmtpTransport(server.settings(), ssl_context=client_tls).send(
            as_bytes(message_for(sample_digest()))
        )
    [got] = server.accepted
    assert got.login == USER


def test_send_implicit_tls_with_auth(
    certificate: tuple[Path, Path], client_tls: ssl.SSLContext
) -> None:
    with SmtpServer(security="tls", auth=True, cert=certificate) as server:
        SmtpTransport(server.settings(), ssl_context=client_tls).send(
            as_bytes(message_for(sample_digest()))
        )
    [got] = server.accepted
    assert got.login == USER and got.message.get_content_type() == "multipart/alternative"


def test_wrong_password_is_a_delivery_error(
    certificate: tuple[Path, Path], client_tls: ssl.SSLContext
) -> None:
    with SmtpServer(security="starttls", auth=True, cert=certificate) as server:
        transport = SmtpTransport(server.settings(password="wrong"), ssl_context=client_tls)
        with pytest.raises(DeliveryError, match="SMTPAuthenticationError"):
            transport.send(as_bytes(message_for(sample_digest())))
    assert server.offered == []


def test_a_password_beyond_ascii_logs_in_with_plain_in_utf8(
    certificate: tuple[Path, Path], client_tls: ssl.SSLContext
) -> None:
    with SmtpServer(security="starttls", auth=True, cert=certificate) as server:
        SmtpTransport(server.settings(password=UTF8_PASSWORD), ssl_context=client_tls).send(
            as_bytes(message_for(sample_digest()))
        )
    [got] = server.accepted
    assert got.login == USER


def test_a_wrong_password_beyond_ascii_is_refused_without_showing_it(
    certificate: tuple[Path, Path], client_tls: ssl.SSLContext
) -> None:
    # smtplib's UnicodeEncodeError held the password, and the error showed it.
    wrong = "Geheimnis-Zürich"
    with SmtpServer(security="starttls", auth=True, cert=certificate) as server:
        transport = SmtpTransport(server.settings(password=wrong), ssl_context=client_tls)
        with pytest.raises(DeliveryError, match="SMTPAuthenticationError") as raised:
            transport.send(as_bytes(message_for(sample_digest())))
    assert "Geheim" not in str(raised.value)
    assert server.offered == []


def test_an_untrusted_certificate_is_refused(certificate: tuple[Path, Path]) -> None:
    with (
        SmtpServer(security="starttls", cert=certificate) as server,
        pytest.raises(DeliveryError, match="TLS certificate refused: "),
    ):
        SmtpTransport(server.settings()).send(as_bytes(message_for(sample_digest())))
    assert server.offered == []


def test_tls_on_a_plain_smtp_port_says_which_setting_to_try(
    smtp_server: SmtpServer, client_tls: ssl.SSLContext
) -> None:
    transport = SmtpTransport(smtp_server.settings(security="tls"), ssl_context=client_tls)
    with pytest.raises(DeliveryError, match='this port may want security = "starttls"'):
        transport.send(as_bytes(message_for(sample_digest())))
    assert smtp_server.offered == []


def test_no_server_is_a_delivery_error() -> None:
    settings = SmtpServer().settings(port=free_port(), timeout=2.0)
    with pytest.raises(DeliveryError, match=r"smtp 127.0.0.1:\d+: connection refused \("):
        SmtpTransport(settings).send(as_bytes(message_for(sample_digest())))


def test_eml_folder_names_the_file_after_the_message_id(tmp_path: Path) -> None:
    msg = message_for(sample_digest())
    folder = EmlFolder(tmp_path / "outbox")
    folder.send(as_bytes(msg))
    folder.send(as_bytes(msg))  # a retry rewrites the same file
    [path] = (tmp_path / "outbox").iterdir()
    assert path.name.startswith("digest.daily.20250304T060000Z.") and path.suffix == ".eml"
    assert parse(path.read_bytes())["Message-ID"].strip() == msg["Message-ID"]


def _to(recipients: tuple[str, ...]) -> bytes:
    digest = sample_digest()
    return as_bytes(
        build_message(
            digest,
            sender=SENDER,
            recipients=recipients,
            subject_prefix="",
            text=render_text(digest),
            html=render_html(digest),
        )
    )


def test_refused_recipients_are_named_with_the_server_s_own_words(
    smtp_server: SmtpServer,
) -> None:
    transport = SmtpTransport(smtp_server.settings())
    with pytest.raises(PartiallyRefused) as caught:
        transport.send(_to(("policy@ngo.example", "nobody@ngo.example")))
    assert str(caught.value) == "refused recipients: nobody@ngo.example: 550 5.1.1 User unknown"
    assert [got.rcpt_tos for got in smtp_server.accepted] == [["policy@ngo.example"]]
    with pytest.raises(DeliveryError) as every:
        transport.send(_to(("nobody@ngo.example",)))
    assert "every recipient refused: nobody@ngo.example: 550 5.1.1 User unknown" in str(every.value)
    assert "b'" not in str(every.value)  # no Python repr of the reply


def test_a_non_ascii_address_is_a_delivery_error_not_a_traceback(smtp_server: SmtpServer) -> None:
    # Refused by the config now; a message queued before (or built elsewhere) fails with a
    # reason, so its outbox row is marked failed instead of staying "sending".
    msg = build_message(
        sample_digest(),
        sender=SENDER,
        recipients=("zoë@ngo.example",),
        subject_prefix="",
        text="t",
        html="<p>h</p>",
    )
    with pytest.raises(DeliveryError, match="an address is not ASCII"):
        SmtpTransport(smtp_server.settings()).send(as_bytes(msg))
    assert smtp_server.accepted == []


def test_a_message_the_server_took_is_sent_whatever_it_answers_to_quit(
    smtp_server: SmtpServer,
) -> None:
    # DATA had its 250; a "421 closing" to QUIT raised, the digest stayed pending, and the
    # next run sent it a second time.
    smtp_server.handler.quit_reply = "421 4.4.2 closing connection"
    SmtpTransport(smtp_server.settings()).send(as_bytes(message_for(sample_digest())))
    assert len(smtp_server.accepted) == 1


@contextmanager
def closing_at_once() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that closes each connection before saying anything (an
    SMTP server turning this client away, or no SMTP server at all); yields its port."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    port: list[int] = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def serve() -> asyncio.Server:
        server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])
        started.set()
        return server

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(serve(), loop).result(timeout=10)
    assert started.wait(10)
    try:
        yield port[0]
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.mark.parametrize("security", ["none", "starttls"])
def test_a_server_that_hangs_up_before_its_greeting_is_said_so(security: str) -> None:
    # Was "smtp 127.0.0.1:N: SMTPServerDisconnected: Connection unexpectedly closed".
    with closing_at_once() as port:
        settings = SmtpServer().settings(port=port, security=security)
        with pytest.raises(DeliveryError) as caught:
            SmtpTransport(settings).send(as_bytes(message_for(sample_digest())))
    message = str(caught.value)
    assert message.startswith(f"smtp 127.0.0.1:{port}: the server closed the connection")
    assert "without a greeting" in message
    assert "smtp.host and smtp.port" in message and 'smtp.security = "tls"' in message
    assert not isinstance(caught.value, PermanentlyRefused)  # retried: it may pass


def test_starttls_asked_of_a_server_without_it_names_the_setting(
    smtp_server: SmtpServer,
) -> None:
    # Was "SMTPNotSupportedError: STARTTLS extension not supported by server."
    transport = SmtpTransport(smtp_server.settings(security="starttls"))
    with pytest.raises(DeliveryError) as caught:
        transport.send(as_bytes(message_for(sample_digest())))
    message = str(caught.value)
    assert message.startswith(f"smtp 127.0.0.1:{smtp_server.port}: the server does not offer")
    assert 'STARTTLS, which smtp.security = "starttls" asks for' in message
    assert 'smtp.security = "none"' in message
    assert smtp_server.offered == []  # nothing went out in clear


@pytest.mark.parametrize(
    ("recipients", "data_reply", "permanent", "words"),
    [
        (("policy@ngo.example",), "554 5.7.1 Message rejected as spam", True, "554 5.7.1"),
        (("policy@ngo.example",), "451 4.3.0 Try again later", False, "451 4.3.0"),
        (("nobody@ngo.example",), None, True, "550 5.1.1 User unknown"),
        (("nobody@ngo.example", "full@ngo.example"), None, False, "452 4.2.2 Mailbox full"),
    ],
    ids=["data-5xx", "data-4xx", "every-recipient-5xx", "one-recipient-4xx"],
)
def test_a_5xx_refuses_the_message_for_good_and_a_4xx_does_not(
    smtp_server: SmtpServer,
    recipients: tuple[str, ...],
    data_reply: str | None,
    permanent: bool,
    words: str,
) -> None:
    smtp_server.handler.data_reply = data_reply
    with pytest.raises(DeliveryError) as caught:
        SmtpTransport(smtp_server.settings()).send(_to(recipients))
    assert isinstance(caught.value, PermanentlyRefused) is permanent
    assert words in str(caught.value)
