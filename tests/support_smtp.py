"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it accepted.

`SmtpServer` runs aiosmtpd in its thread, plain, with STARTTLS or with implicit TLS, with or
without AUTH. It records every DATA it was offered (`offered`) and every message it answered
250 to (`accepted`); `handler.data_reply` answers DATA otherwise ("554 ..."), and it refuses
recipients nobody@ (550) and full@ (452). `hold()` makes the next DATA wait before
answering, so a test can kill the sender in the middle of a send: aiosmtpd cancels the
handler when the client goes away, and the message is then never accepted, as with a real
server that never said 250.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "digest-bot", "s3cret-from-env"
UTF8_PASSWORD = "Pässwort-Geheim"  # also accepted: RFC 4616's PLAIN carries UTF-8


@dataclass(frozen=True, slots=True, kw_only=True)
class TestSmtpSettings:
    """What aggregator.settings.SmtpSettings carries, for pointing the transport at the server."""

    __test__ = False  # not a test class, whatever its name
    host: str
    port: int
    security: Literal["starttls", "tls", "none"] = "none"
    username: str | None = None
    password: str | None = None
    sender: str = "Digest <digest@aggregator.example>"
    timeout: float = 5.0


@dataclass(slots=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=default_policy).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Handler:
    offered: list[Received] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    holding: threading.Event = field(default_factory=threading.Event)
    data_arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    quit_reply: str = "221 Bye"  # what QUIT gets: a server may say "421 closing" instead
    # What the end of DATA gets instead of 250 ("554 5.7.1 rejected as spam"); None: 250.
    data_reply: str | None = None

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        return self.quit_reply

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):  # a mailbox this server does not have
            return "550 5.1.1 User unknown"
        if address.startswith("full@"):  # a mailbox that may take mail later
            return "452 4.2.2 Mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data.login.decode() if session.auth_data else None
        got = Received(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            data=bytes(envelope.original_content),
            login=login,
        )
        self.offered.append(got)
        if self.data_reply is not None:
            return self.data_reply
        if self.holding.is_set():
            self.holding.clear()
            self.data_arrived.set()
            while not self.release.is_set():  # cancelled here if the client dies
                await asyncio.sleep(0.02)
        self.accepted.append(got)
        return "250 Message accepted for delivery"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) in (
        (USER.encode(), PASSWORD.encode()),
        (USER.encode(), UTF8_PASSWORD.encode()),
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SmtpServer:
    def __init__(
        self,
        *,
        security: Literal["starttls", "tls", "none"] = "none",
        auth: bool = False,
        cert: tuple[Path, Path] | None = None,
    ) -> None:
        self.handler = _Handler()
        self.security = security
        self.auth = auth
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if security != "none":
            assert cert is not None, "TLS needs a certificate"
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
            if security == "tls":
                kwargs["ssl_context"] = context
            else:
                kwargs["tls_context"] = context
                kwargs["require_starttls"] = True
        if auth:
            kwargs["authenticator"] = _authenticate
            # aiosmtpd counts only STARTTLS as TLS for these checks, not implicit TLS (and
            # warns when AUTH is required without TLS): with implicit TLS, AUTH is offered
            # but not enforced; the tests check the login the client gave.
            kwargs["auth_required"] = security == "starttls"
            kwargs["auth_require_tls"] = security == "starttls"
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10, **kwargs
        )

    @property
    def accepted(self) -> list[Received]:
        return self.handler.accepted

    @property
    def offered(self) -> list[Received]:
        return self.handler.offered

    def hold(self) -> None:
        """The next DATA waits (unanswered) until `release()`."""
        self.handler.release.clear()
        self.handler.data_arrived.clear()
        self.handler.holding.set()

    def wait_for_data(self, timeout: float = 20) -> None:
        assert self.handler.data_arrived.wait(timeout), "no DATA arrived at the SMTP server"

    def release(self) -> None:
        self.handler.release.set()

    def settings(self, **overrides: Any) -> TestSmtpSettings:
        values: dict[str, Any] = {"host": "127.0.0.1", "port": self.port, "security": self.security}
        if self.auth:
            values |= {"username": USER, "password": PASSWORD}
        return TestSmtpSettings(**(values | overrides))

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.controller.stop()


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command line tool
    (the `cryptography` package is not a dependency)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make a test certificate with openssl: {exc}")
    return cert, key


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture()
def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context that trusts exactly the test certificate."""
    return ssl.create_default_context(cafile=str(certificate[0]))


@pytest.fixture()
def smtp_server() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server
