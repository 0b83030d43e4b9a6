"""The digest email: one multipart/alternative message (text, then HTML) per profile and window,
and the SMTP transport that sends its bytes.

Headers that make a retry recognisable: the Message-ID is derived from (profile, window end)
only, so every attempt at one window carries the same id and a receiving system that sees the
message twice can drop the copy; the Date is the window end (in the profile's zone), not the
time of the attempt. The outbox stores the bytes, so a retry sends exactly what was built.
"""

from __future__ import annotations

import base64
import email.policy
import hashlib
import re
import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, getaddresses, parseaddr
from typing import Literal, Protocol

from aggregator.deliver.render import local_date, local_time
from aggregator.digest import Digest
from aggregator.errors import DeliveryError

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]+")
# RFC 5322's empty group: a message whose every recipient is in Bcc.
UNDISCLOSED = "undisclosed-recipients:;"


class SmtpSettingsLike(Protocol):
    """The fields of `aggregator.settings.SmtpSettings` this module reads."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def security(self) -> Literal["starttls", "tls", "none"]: ...
    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...
    @property
    def sender(self) -> str: ...
    @property
    def timeout(self) -> float: ...


def sender_domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2]
    if not domain:
        raise DeliveryError(f"sender {sender!r} has no domain: expected name@example.org")
    return domain.lower()


def message_id(digest: Digest, sender: str) -> str:
    """``<digest.{profile}.{window end, UTC}.{hash}@{sender domain}>``: one per window."""
    window_end = digest.window_end.astimezone(UTC)
    end = window_end.strftime("%Y%m%dT%H%M%SZ")
    digest_key = hashlib.sha256(f"{digest.profile}\n{window_end.isoformat()}".encode()).hexdigest()
    safe_profile = _UNSAFE_ID.sub("-", digest.profile) or "profile"
    return f"<digest.{safe_profile}.{end}.{digest_key[:12]}@{sender_domain(sender)}>"


def subject(digest: Digest, prefix: str) -> str:
    n, m = digest.entry_count, digest.source_count
    events = digest.procedure_event_count
    if n == 0 and events:
        # Procedures alone: "0 statements from 0 sources" read as an empty email.
        text = f"{local_date(digest)}: {events} procedure event{'s' * (events != 1)}"
    else:
        text = (
            f"{local_date(digest)}: {n} statement{'s' * (n != 1)} from {m} source{'s' * (m != 1)}"
        )
        if events:
            text += f", {events} procedure event{'s' * (events != 1)}"
    if digest.updated_count:
        text += f", {digest.updated_count} updated"
    return f"{prefix} {text}".strip()


def build_message(
    digest: Digest,
    *,
    sender: str,
    recipients: Sequence[str],
    subject_prefix: str,
    text: str,
    html: str,
    bcc: Sequence[str] = (),
) -> EmailMessage:
    """The email of one digest: text/plain first (the fallback), then text/html.

    `bcc` addresses are kept in a Bcc header of the stored message, which names the
    envelope's recipients for every retry, and taken out of what is sent (`without_bcc`).
    """
    if not recipients and not bcc:
        raise DeliveryError(f"profile {digest.profile!r} has no recipients")
    domain = sender_domain(sender)
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = sender
    for name, value in _address_fields(recipients, bcc):
        message[name] = value
    message["Subject"] = subject(digest, subject_prefix)
    message["Date"] = format_datetime(local_time(digest.window_end, digest.timezone))
    message["Message-ID"] = message_id(digest, sender)
    message["List-Id"] = (
        f'"{digest.profile} digest" <{_UNSAFE_ID.sub("-", digest.profile)}.digest.{domain}>'
    )
    # RFC 3834: tells auto-responders (vacation replies) not to answer.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message


def _address_fields(recipients: Sequence[str], bcc: Sequence[str]) -> list[tuple[str, str]]:
    """The To field, and the Bcc field when someone is hidden."""
    fields = [("To", ", ".join(recipients) if recipients else UNDISCLOSED)]
    named = {address.lower() for _, address in getaddresses(list(recipients))}
    hidden = [b for b in bcc if getaddresses([b])[0][1].lower() not in named]
    if hidden:  # one already in To: gets the one copy To: gives it
        fields.append(("Bcc", ", ".join(hidden)))
    return fields


@dataclass(frozen=True, slots=True, kw_only=True)
class Addressees:
    """Whom a profile's digest goes to now (its `recipients` and `bcc` in the settings)."""

    to: tuple[str, ...]
    bcc: tuple[str, ...] = ()

    @property
    def anyone(self) -> bool:
        return bool(self.to or self.bcc)


def _addressed_to(raw: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The addresses of a message's To and Bcc fields, lower case, in order."""
    headers = BytesParser(policy=SMTP_POLICY).parsebytes(raw, headersonly=True)

    def of(name: str) -> tuple[str, ...]:
        values = [str(v) for v in headers.get_all(name, [])]
        return tuple(address.lower() for _, address in getaddresses(values) if address)

    return of("To"), of("Bcc")


def readdressed(raw: bytes, addressees: Addressees) -> bytes:
    """The stored message with its To and Bcc fields naming `addressees`, every other byte
    as stored (the Message-ID, the Date, the body); `raw` itself when they name the same
    people already (an unchanged profile's retry sends exactly what was built)."""
    fields = _address_fields(addressees.to, addressees.bcc)
    header = EmailMessage(policy=SMTP_POLICY)
    for name, value in fields:
        header[name] = value
    new_fields = header.as_bytes(policy=SMTP_POLICY).rstrip(b"\r\n")
    if _addressed_to(new_fields + b"\r\n\r\n") == _addressed_to(raw):
        return raw
    head, separator, body = raw.partition(b"\r\n\r\n")
    kept: list[bytes] = []
    dropping = placed = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):  # a folded field's next line
            if not dropping:
                kept.append(line)
            continue
        dropping = line.lower().startswith((b"to:", b"bcc:"))
        if dropping and not placed:  # where the old To stood
            kept.append(new_fields)
            placed = True
        if not dropping:
            kept.append(line)
    if not placed:
        kept.append(new_fields)
    return b"\r\n".join(kept) + separator + body


def as_bytes(message: EmailMessage) -> bytes:
    """The message as sent. A Subject of 70 to 77 characters is folded by the standard library
    right after "Subject:", which readers parsing the header give back with a leading space
    (a filter on "[CSA online]" missed it): such a message is written with lines of up to 100
    characters (RFC 5322 allows 998), which keeps that subject on its header's line."""
    raw = message.as_bytes(policy=SMTP_POLICY)
    wanted = message["Subject"]
    if wanted is None or _subject_of(raw) == str(wanted):
        return raw
    return message.as_bytes(policy=SMTP_POLICY.clone(max_line_length=100))


def _subject_of(raw: bytes) -> str | None:
    headers = BytesParser(policy=email.policy.default).parsebytes(raw, headersonly=True)
    subject = headers["Subject"]
    return None if subject is None else str(subject)


def stored_message_id(raw: bytes) -> str | None:
    """The Message-ID of a serialised message (its header may be folded over lines)."""
    headers = BytesParser(policy=SMTP_POLICY).parsebytes(raw, headersonly=True)
    value = headers.get("Message-ID")
    return None if value is None else str(value).strip()


def envelope(raw: bytes) -> tuple[str, list[str]]:
    """Envelope sender and recipients, read back from a stored message's headers."""
    headers = BytesParser(policy=SMTP_POLICY).parsebytes(raw, headersonly=True)
    sender = parseaddr(str(headers.get("From", "")))[1]
    fields = [str(v) for name in ("To", "Cc", "Bcc") for v in headers.get_all(name, [])]
    # Each address once, whatever its case or display name: some servers deliver one copy
    # per RCPT TO, and an address in both `recipients` and `bcc` got two.
    recipients: list[str] = []
    seen: set[str] = set()
    for _, address in getaddresses(fields):
        if address and address.lower() not in seen:
            seen.add(address.lower())
            recipients.append(address)
    if not sender or not recipients:
        raise DeliveryError("stored message has no From or no To address")
    return sender, recipients


def without_bcc(raw: bytes) -> bytes:
    """The message as sent: its Bcc header (and the header's folded lines) taken out, the
    rest byte for byte, as sendmail -t does."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    kept: list[bytes] = []
    dropping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.lower().startswith(b"bcc:")
        if not dropping:
            kept.append(line)
    return b"\r\n".join(kept) + separator + body


class SmtpTransport:
    """Sends a message's bytes over SMTP: STARTTLS, implicit TLS or plain, with AUTH when a
    username is set. The password comes from settings, which read it from the environment."""

    def __init__(self, settings: SmtpSettingsLike, *, ssl_context: ssl.SSLContext | None = None):
        self.settings = settings
        self.ssl_context = ssl_context or ssl.create_default_context()

    def send(self, raw: bytes) -> None:
        s = self.settings
        where = f"{s.host}:{s.port}"
        sender, recipients = envelope(raw)
        try:
            client = self._connect()
            try:
                if s.security == "starttls":
                    _starttls(client, self.ssl_context)
                if s.username:
                    _login(client, s.username, s.password or "", where=where)
                refused = client.sendmail(sender, recipients, without_bcc(raw))
            except BaseException:
                client.close()
                raise
            _quit(client)
        except (smtplib.SMTPException, OSError) as exc:
            if isinstance(exc, smtplib.SMTPException) and refused_for_good(exc):
                raise PermanentlyRefused(f"smtp {where}: {_smtp_words(exc)}") from exc
            raise DeliveryError(f"smtp {where}: {_smtp_words(exc)}") from exc
        except UnicodeEncodeError as exc:
            # An address with non-ASCII letters (queued before the config refused them)
            # needs SMTPUTF8: failed with a reason, not a traceback that left it "sending".
            raise DeliveryError(
                f"smtp {where}: an address is not ASCII ({exc.object!r}): give "
                "its ASCII form (a name may have any letters: 'Zoë <zoe@example.org>')"
            ) from exc
        if refused:
            # Accepted for some recipients: resending would duplicate it for the others.
            # The outbox records this as sent, with the refusals as its last error.
            raise PartiallyRefused(refused)

    def _connect(self) -> smtplib.SMTP:
        """A connection that had the server's greeting. One closed before it is said in
        words: smtplib's "Connection unexpectedly closed" named neither the greeting nor
        what to check."""
        s = self.settings
        try:
            if s.security == "tls":
                return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self.ssl_context)
            return smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        except smtplib.SMTPServerDisconnected as exc:
            raise NoGreeting(s.security) from exc


class NoGreeting(smtplib.SMTPServerDisconnected):
    """The server closed the connection before its 220 greeting."""

    def __init__(self, security: str) -> None:
        hint = (
            ""
            if security == "tls"
            else '; a port that wants TLS from the first byte (465) needs smtp.security = "tls"'
        )
        super().__init__(
            "the server closed the connection without a greeting (no 220 reply): check"
            " smtp.host and smtp.port name an SMTP server that accepts this machine" + hint
        )


class StartTlsNotOffered(smtplib.SMTPNotSupportedError):
    """smtp.security = "starttls", and the server's EHLO does not offer STARTTLS."""

    def __init__(self) -> None:
        super().__init__(
            'the server does not offer STARTTLS, which smtp.security = "starttls" asks for:'
            " check smtp.port (587 offers it on most servers; 465 wants smtp.security ="
            ' "tls"), or set smtp.security = "none" for a server that takes mail unencrypted'
            " (the digest, and any password, then cross the network in clear)"
        )


def _starttls(client: smtplib.SMTP, context: ssl.SSLContext) -> None:
    try:
        client.starttls(context=context)
    except smtplib.SMTPNotSupportedError as exc:
        raise StartTlsNotOffered() from exc


def refused_for_good(exc: smtplib.SMTPException) -> bool:
    """Whether the server's reply refuses this message for good (RFC 5321 4.2.1: a 5yz reply
    is a permanent failure; sending the same again gets the same answer): a 5xx to the
    message (DATA), to every recipient, or to the sender, but for 530 ("log in" or
    "STARTTLS first": the settings' matter, and the message goes once they are mended). A
    4xx, a dropped connection or a timeout may pass: those are retried."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return exc.smtp_code >= 500 and exc.smtp_code != 530
    return False


def _login(client: smtplib.SMTP, username: str, password: str, *, where: str) -> None:
    """AUTH as smtplib does, and for credentials beyond ASCII AUTH PLAIN in UTF-8 (RFC 4616):
    smtplib encodes them as ASCII, and its UnicodeEncodeError held the password, which was
    then shown in the error, the log and the outbox."""
    if username.isascii() and password.isascii():
        client.login(username, password)
        return
    client.ehlo_or_helo_if_needed()
    offered = client.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" not in offered:
        raise DeliveryError(
            f"smtp {where}: the SMTP username or password has characters beyond ASCII, which"
            " only AUTH PLAIN carries, and this server offers "
            + (f"AUTH {' '.join(offered)}" if offered else "no AUTH")
        )
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, reply = client.docmd("AUTH", f"PLAIN {token}")
    if code not in (235, 503):  # 503: authenticated already
        raise smtplib.SMTPAuthenticationError(code, reply)


def _quit(client: smtplib.SMTP) -> None:
    """Say goodbye to a server that took the message. Its answer changes nothing: once DATA
    had its 250, the message is sent, and a "421 closing" to QUIT (which `with client:`
    raised) left the digest pending, to be sent a second time."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


class PermanentlyRefused(DeliveryError):
    """The server refused the message for good (a 5xx reply, see `refused_for_good`): the
    outbox marks it failed and does not send it again."""


class PartiallyRefused(DeliveryError):
    """The server took the message for some recipients and refused others."""

    def __init__(self, refused: dict[str, tuple[int, bytes]]) -> None:
        self.refused = refused
        detail = ", ".join(
            f"{addr}: {_reply(code, text)}" for addr, (code, text) in sorted(refused.items())
        )
        super().__init__(f"refused recipients: {detail}")


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(words.split())}".strip()


def _smtp_words(exc: BaseException) -> str:
    """The server's reply as it wrote it ("550 5.1.1 User unknown"), not a Python repr of
    (550, b'...'); every recipient's, when all were refused."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = exc.recipients.items()
        return "every recipient refused: " + ", ".join(
            f"{addr}: {_reply(code, text)}" for addr, (code, text) in sorted(refused)
        )
    if isinstance(exc, (NoGreeting, StartTlsNotOffered)):
        return str(exc)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {_reply(exc.smtp_code, exc.smtp_error)}"
    # In an operator's words, as the fetch errors are: not "[Errno 111] Connection refused".
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the SMTP server running, on this port?)"
    if isinstance(exc, socket.gaierror):
        return f"host not found ({exc.strerror or exc})"
    if isinstance(exc, TimeoutError):
        return "timed out: the SMTP server did not answer"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate refused: {exc.verify_message or exc.reason or exc}"
    if isinstance(exc, ssl.SSLError):
        if exc.reason == "WRONG_VERSION_NUMBER":
            # The port spoke plain SMTP to our TLS handshake: security = "tls" on a port
            # that wants STARTTLS (587, 25) or none, the commonest mistake with a new server.
            return (
                "TLS error: the server did not answer in TLS (WRONG_VERSION_NUMBER): this"
                ' port may want security = "starttls" (as 587 and 25 do) or "none"'
            )
        return f"TLS error: {exc.reason or exc}"
    return f"{type(exc).__name__}: {exc}"
