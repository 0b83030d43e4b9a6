"""Field types with validators, shared by aggregator.toml and sources.toml.

Each validator raises `PydanticCustomError("config", message, {"expected": ...})` so the
error report (report.py) can say both what is wrong and what was expected.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from datetime import timedelta
from email.utils import getaddresses
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from aggregator.cadence import LONGEST_WAIT
from aggregator.codes import COUNTRY_CODES, LANGUAGE_CODES
from aggregator.durations import (
    DURATION_EXAMPLES,
    DurationTooLong,
    format_duration,
    parse_duration,
)
from aggregator.models import AUTOMATIC_TAG_FAMILIES
from aggregator.settings.tomlfile import toml_text
from aggregator.urls import mask_password, spaced_or_unprintable, url_problem

# Source intervals below this are refused outright: polling a publisher every few seconds is
# abuse, whatever the scheduler's own `schedule.min_interval` clamps to later.
MIN_SOURCE_INTERVAL = timedelta(minutes=1)
# Every duration setting at most a year (intervals, backoffs, leases): the scheduler waits no
# longer anyway (cadence.LONGEST_WAIT), and "5000000d" passed the check only to overflow the
# date arithmetic at the first refresh. A year is far beyond any sensible value.
MAX_DURATION = LONGEST_WAIT


def fail(message: str, expected: str) -> PydanticCustomError:
    return PydanticCustomError("config", message, {"expected": expected})


def _pattern(regex: str, what: str, expected: str, known: frozenset[str] | None = None) -> Any:
    """A value of the given form; with `known`, also one of those (a code that exists)."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise fail(f"invalid {what} {value!r}", expected)
        if known is not None and value not in known:
            raise fail(f"unknown {what} {value!r}", expected)
        return value

    return AfterValidator(check)


Slug = Annotated[
    str,
    _pattern(
        r"[a-z0-9][a-z0-9\-_.]*",
        "id",
        "lower-case letters, digits, '-', '_' or '.', like 'city-council'",
    ),
]
TagName = Annotated[
    str, _pattern(r"[a-z0-9][a-z0-9\-_]*", "tag", "a lower-case tag name like 'data-protection'")
]
# A profile may select by automatic tags too ("lang:de", "org:ngo", "source:edri").
TagFilter = Annotated[
    str,
    _pattern(
        r"[a-z0-9][a-z0-9\-_]*|(?:" + "|".join(AUTOMATIC_TAG_FAMILIES) + r"):\S+",
        "tag",
        "a lower-case tag name like 'data-protection', or an automatic tag like 'lang:de',"
        " 'org:ngo' or 'source:city-council'",
    ),
]


Language = Annotated[
    str,
    _pattern(
        r"[a-z]{2}",
        "language code",
        "a 2-letter ISO 639-1 code in lower case, like 'de'",
        LANGUAGE_CODES,
    ),
]
Country = Annotated[
    str,
    _pattern(
        r"[A-Z]{2}",
        "country code",
        "a 2-letter ISO 3166-1 code in upper case, like 'DE', or the EU's EU, EL or UK",
        COUNTRY_CODES,
    ),
]
ProcedureReference = Annotated[
    str,
    _pattern(
        r"\d{4}/\d{4}\([A-Z]{3}\)",
        "procedure reference",
        "a Parliament procedure reference like '2021/0106(COD)'",
    ),
]
_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")


def _controls_in(value: str) -> list[str]:
    """The control characters of `value` but tab, as escapes ("\\n")."""
    return sorted({repr(c)[1:-1] for c in value if unicodedata.category(c) == "Cc" and c != "\t"})


def _one_line(value: str) -> str:
    """Text that goes into an email header: a line break in it ended the header and began
    another (a "Bcc:" of the config's making), and the mail module refused it only at send
    time, with a traceback that stopped `aggregator run`."""
    controls = _controls_in(value)
    if controls:
        raise fail(
            f"{value!r} has control characters ({', '.join(controls)})",
            "text on one line, without line breaks or control characters",
        )
    return value


HeaderText = Annotated[str, AfterValidator(_one_line)]


def _mailbox(value: str) -> str:
    """One address, bare or with a display name ("CSA Watch <digest@example.org>"): what a
    From or To header holds. Kept as written; the mail module reads the address from it.
    Read as the mail module reads a header, so a name with an unquoted comma ("Watch, CSA
    <d@example.org>", two mailboxes to a mail reader) is refused, not sent half-broken."""
    _one_line(value)
    stripped = value.strip()
    found = getaddresses([stripped])
    angled = "<" in stripped or ">" in stripped
    if (
        len(found) != 1
        or not _ADDRESS.fullmatch(found[0][1])
        or not found[0][1].isascii()  # the SMTP client sends ASCII addresses only
        or (angled and not re.fullmatch(r"[^<>]*<[^<>]+>", stripped))  # "Name <a@b.org" too
    ):
        raise fail(
            f"invalid email address {value!r}",
            "one ASCII address like 'a@example.org' or 'Name <a@example.org>' (a name may "
            "have any letters; quote one with a comma: '\"News, Desk\" <a@example.org>')",
        )
    return stripped


EmailAddress = Annotated[str, AfterValidator(_mailbox)]
NonEmpty = Annotated[str, _pattern(r"(?s).*\S.*", "empty text", "a non-empty string")]


class EnvText(str):
    """A value from an environment variable: text, read as its setting's type ("8080")."""


def _typed(kind: str, *types: type) -> Any:
    """Refuse a value of another TOML type (`retries = "3"`, `enabled = "no"`, `retries =
    true`, `enabled = 1`, `max_bytes = 1e6`): TOML has types, and each of these is a mistake
    pydantic would otherwise quietly convert ("no" to false, true to 1, 1e6 to 1000000). An
    environment variable's text is converted."""

    def check(value: object) -> object:
        if isinstance(value, EnvText):
            return value
        if isinstance(value, str):
            raise fail(f"{value!r} is text, in quotes", f"{kind}, without quotes")
        # bool is an int to Python; an int is a float to TOML readers only where allowed.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise fail(f"wrong type: {toml_text(value)}", kind)
        return value

    return BeforeValidator(check)


Integer = Annotated[int, _typed("an integer", int)]
Number = Annotated[float, _typed("a number", int, float)]
Boolean = Annotated[bool, _typed("true or false", bool)]


def _duration(minimum: timedelta, maximum: timedelta = MAX_DURATION) -> Any:
    longest = f"at most {format_duration(maximum)}"

    def check(value: object) -> timedelta:
        shown = toml_text(value)
        try:
            duration = parse_duration(value)
        except DurationTooLong:
            raise fail(f"duration {shown} is too long", longest) from None
        except ValueError:
            raise fail(f"invalid duration {shown}", DURATION_EXAMPLES) from None
        if duration < minimum:
            raise fail(f"duration {shown} is too short", f"at least {format_duration(minimum)}")
        if duration > maximum:
            raise fail(f"duration {shown} is too long", longest)
        return duration

    return BeforeValidator(check)


Duration = Annotated[timedelta, _duration(timedelta(seconds=1))]
SourceInterval = Annotated[timedelta, _duration(MIN_SOURCE_INTERVAL)]


_URL_EXAMPLE = "a URL like 'https://example.org/feed'"


def _check_url(value: str) -> str:
    # Everything that would only fail at the first fetch is refused here, with the line.
    # Its password is not repeated: `sources check` output goes to CI logs and bug reports.
    shown = mask_password(value)
    if spaced_or_unprintable(value):
        raise fail(
            f"URL {shown!r} contains spaces or control characters",
            f"{_URL_EXAMPLE}, percent-encoded (a space is %20)",
        )
    try:
        parts = urlsplit(value)
        port = parts.port  # raises for a port out of range
    except ValueError as exc:
        raise fail(f"invalid URL {shown!r}: {exc}", _URL_EXAMPLE) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "file") or "://" not in value:
        raise fail(f"invalid URL {shown!r}", "an http://, https:// or file:// URL")
    if scheme != "file" and not parts.hostname:
        raise fail(f"URL {shown!r} has no host", _URL_EXAMPLE)
    if port == 0:
        raise fail(f"URL {shown!r} has port 0", "a port from 1 to 65535")
    problem = url_problem(value)
    if problem is not None:
        raise fail(f"invalid URL {shown!r}: {problem}", _URL_EXAMPLE)
    return value


Url = Annotated[str, AfterValidator(_check_url)]


def _header_safe(value: str, what: str) -> str:
    # Sent in an HTTP header: printable ASCII only (no line break could end the header).
    if not (value.isascii() and value.isprintable()):
        raise fail(
            f"{what} {value!r} cannot be sent in an HTTP header",
            "printable ASCII characters only (percent-encode others in a URL: %C3%A9)",
        )
    return value


def _check_user_agent(value: str) -> str:
    return _header_safe(value, "user agent")


UserAgent = Annotated[NonEmpty, AfterValidator(_check_user_agent)]


def _check_contact(value: str) -> str:
    _header_safe(value, "contact")
    if value.startswith("mailto:") and "@" in value:
        return value
    if urlsplit(value).scheme in ("http", "https") and urlsplit(value).hostname:
        return value
    raise fail(
        f"invalid contact {value!r}",
        "'mailto:someone@example.org' or an https:// URL, sent in the User-Agent",
    )


Contact = Annotated[str, AfterValidator(_check_contact)]


_ORIGIN_EXPECTED = (
    "an origin as a browser sends it: scheme://host[:port] in lower case, with no path,"
    " like 'https://example.org' or 'http://localhost:3000'; or \"*\" for any origin"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _check_origin(value: str) -> str:
    # Compared as text with the Origin header the browser sends: anything else never matches,
    # and the API's cross-origin calls were refused with nothing said at start.
    if value == "*":
        return value
    if spaced_or_unprintable(value):
        raise fail(f"origin {value!r} contains spaces or control characters", _ORIGIN_EXPECTED)
    try:
        parts = urlsplit(value)
        port = parts.port  # raises for a port out of range or not a number
    except ValueError as exc:
        raise fail(f"invalid origin {value!r}: {exc}", _ORIGIN_EXPECTED) from None
    if not re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value) or not parts.hostname:
        raise fail(f"invalid origin {value!r}: no scheme://host", _ORIGIN_EXPECTED)
    if "@" in parts.netloc:
        raise fail(f"origin {value!r} has a user name", _ORIGIN_EXPECTED)
    if parts.path or parts.query or parts.fragment or value.endswith(("?", "#")):
        problem = "has a path, query or fragment (an origin ends at the host or port)"
        raise fail(f"origin {value!r} {problem}", _ORIGIN_EXPECTED)
    if value != value.lower():
        raise fail(f"origin {value!r} has upper-case letters", _ORIGIN_EXPECTED)
    if port is not None and _DEFAULT_PORTS.get(parts.scheme) == port:
        problem = "names its scheme's default port (a browser omits it)"
        raise fail(f"origin {value!r} {problem}", _ORIGIN_EXPECTED)
    return value


CorsOrigin = Annotated[str, AfterValidator(_check_origin)]


def _check_data_dir(value: str) -> str:
    # Checked here, not when the store opens: there it was a store error (exit 3) about a
    # database URL, naming neither the setting nor the environment variable that set it.
    expected = "a folder (made if missing) for the SQLite file, digests and the outbox"
    path = Path(value).expanduser()
    try:
        for existing in (path, *path.parents):
            if existing.exists():
                if not existing.is_dir():
                    what = (
                        "is a file" if existing == path else f"is inside a file, {str(existing)!r}"
                    )
                    raise fail(f"{value!r} {what}, not a folder", expected)
                break
    except OSError as exc:  # a name too long, a parent not searchable: it was exit 120
        raise fail(f"{value!r} cannot be a folder: {exc.strerror or exc}", expected) from exc
    return value


DataDir = Annotated[NonEmpty, AfterValidator(_check_data_dir)]


def split_attribute(selector: str) -> tuple[str, str | None]:
    """ "a.title@href" -> ("a.title", "href"); the ``@attr`` suffix is ours, not CSS."""
    head, at, attribute = selector.rpartition("@")
    # An '@' inside brackets belongs to an attribute value (a[href^="mailto:x@y"]).
    if at and re.fullmatch(r"[\w:-]+", attribute) and head.count("[") == head.count("]"):
        return head, attribute
    return selector, None


def _check_css(value: str) -> str:
    # Imported here: only a config with HTML sources pays for the CSS parser (and a refresh
    # of feeds starts without it).
    import soupsieve

    from aggregator.parse.soup import AS_BROWSERS_READ  # and its filter of a soupsieve warning

    css, attribute = split_attribute(value)
    if attribute is not None and not css.strip():
        return value  # "@href": the item element's own attribute
    head = value.rstrip()
    if head.endswith("@") and head.count("[") == head.count("]"):
        # "time@": the attribute's name is missing, not the selector in the wrong place.
        raise fail(
            f"invalid CSS selector {value!r}: no attribute name follows the @",
            "a CSS selector, optionally ending in @attribute, as in 'time@datetime'",
        )
    try:
        soupsieve.compile(css, flags=AS_BROWSERS_READ)
    # NotImplementedError: a pseudo-element ("h3::text"), which soupsieve refuses.
    except (soupsieve.SelectorSyntaxError, NotImplementedError, ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0]
        ours = _our_spelling(css) if "::" in css else None
        hint = (
            f"; did you mean {ours!r}? (::text and ::attr() are Scrapy's, not CSS)" if ours else ""
        )
        if not hint and "@" in css and css.count("[") == css.count("]"):
            # "time@datetime, span.d": our @attribute ends the whole selector, once.
            hint = "; @attribute may only end the whole selector, once, as in 'time@datetime'"
        raise fail(
            f"invalid CSS selector {value!r}: {reason}{hint}",
            "a CSS selector, optionally ending in @attribute",
        ) from exc
    return value


# Scrapy's (parsel's) pseudo-elements, as selectors copied from a spider write them: "::text"
# is what a selector without @attribute reads anyway, "::attr(href)" is our "@href".
_SCRAPY_TEXT = re.compile(r"\s*::text\b")
_SCRAPY_ATTRIBUTE = re.compile(r"\s*::attr\(\s*([\w:-]+)\s*\)\s*$")


def _our_spelling(css: str) -> str | None:
    """`css` in our spelling when it is Scrapy's ("h3 a::attr(href)" -> "h3 a@href"), else
    None."""
    import soupsieve

    from aggregator.parse.soup import AS_BROWSERS_READ

    ours = _SCRAPY_ATTRIBUTE.sub(r"@\1", _SCRAPY_TEXT.sub("", css)).strip()
    if ours == css.strip():
        return None
    head, attribute = split_attribute(ours)
    if attribute is not None and not head.strip():
        return ours  # "::attr(href)" alone: the item's own attribute, "@href"
    try:
        soupsieve.compile(head, flags=AS_BROWSERS_READ)
    except (soupsieve.SelectorSyntaxError, NotImplementedError, ValueError, TypeError):
        return None  # another mistake as well: no spelling to offer
    return ours


CssSelector = Annotated[str, AfterValidator(_check_css)]


def _check_item_css(value: str) -> str:
    try:
        _check_css(value)
    except PydanticCustomError as exc:
        # The same problem, with what an item selector may be: no @attribute.
        raise fail(exc.message(), "a plain CSS selector of one entry, like 'li.news'") from exc
    if split_attribute(value)[1] is not None:
        raise fail(
            f"item selector {value!r} ends in an @attribute",
            "a plain CSS selector: an item is an element; @attribute belongs to the others",
        )
    return value


ItemSelector = Annotated[str, AfterValidator(_check_item_css)]


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise fail(f"unknown timezone {value!r}", "an IANA zone like 'Europe/Brussels'") from exc
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


def _check_cron(value: str) -> str:
    expected = (
        "a 5-field cron expression 'minute hour day month weekday', like '0 7 * * *', or"
        " @hourly, @daily, @weekly, @monthly, @yearly"
    )
    from datetime import UTC, datetime

    from aggregator.cron import check_fires, cron_trigger, expanded  # a config with a cron pays

    fields = len(expanded(value).split())
    if fields != 5:
        count = f"{fields} field{'' if fields == 1 else 's'}"
        raise fail(f"invalid cron expression {value!r}: {count}", expected)

    try:
        check_fires(cron_trigger(value, "UTC"), datetime.now(UTC))
    except ValueError as exc:
        raise fail(f"invalid cron expression {value!r}: {exc}", expected) from exc
    return value


CronExpression = Annotated[str, AfterValidator(_check_cron)]


# The drivers installed with the project: SQLite's own, and psycopg 3 (a bare
# "postgresql://" or "postgres://" means it too; SQLAlchemy would reach for psycopg2, which
# is not installed).
_DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgres", "postgresql", "postgresql+psycopg")


def _check_database_url(value: str) -> str:
    expected = "'sqlite:///path/file.sqlite' or 'postgresql+psycopg://user@host:5432/db'"
    shown = mask_password(value)  # messages and logs never carry it
    scheme, sep, _ = value.partition("://")
    backend, _, driver = scheme.partition("+")
    if not sep or backend not in ("sqlite", "postgres", "postgresql"):
        raise fail(f"unsupported database in database URL {shown!r}", expected)
    if scheme not in _DATABASE_SCHEMES:
        problem = (
            f"driver {driver!r} is not installed"
            if backend != "postgres"
            else f"'{scheme}' is no database scheme (write postgresql+{driver})"
        )
        raise fail(f"{problem} in database URL {shown!r}", expected)
    if backend.startswith("postgres"):
        wrong = _postgres_url_problem(value)
        if wrong:
            raise fail(f"invalid database URL {shown!r}: {wrong}", expected)
    elif _sqlite_in_memory(value):
        # SQLite's in-memory database: every refresh stored, then thrown away at exit. Met as
        # `sqlite:///${DB}` with DB unset; never what a service means.
        raise fail(
            f"database URL {shown!r} names no database file (SQLite would keep everything "
            "in memory and lose it at exit)",
            "a file path like 'sqlite:///var/aggregator.sqlite' ('sqlite:////srv/a.sqlite' "
            "when absolute), or no database URL at all for data_dir/aggregator.sqlite",
        )
    return value


def _sqlite_in_memory(value: str) -> bool:
    """A SQLite URL without a file: `sqlite://`, `sqlite:///`, `sqlite:///:memory:`, or a
    `file:` URI opened with `mode=memory`."""
    from sqlalchemy.engine import make_url  # read as the store will read it

    try:
        url = make_url(value)
    except ValueError:
        return False  # the store's own error names it
    database = (url.database or "").strip()
    if database.startswith("file:"):  # a URI filename: "file::memory:", "file:?uri=true"
        database = database.removeprefix("file:").partition("?")[0]
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def _postgres_url_problem(value: str) -> str | None:
    """What the store would trip over in a PostgreSQL URL: a port that is no number (in the
    authority or as `?port=`), brackets of an IPv6 host left open."""
    from sqlalchemy.engine import make_url  # read as the store will read it

    not_a_number = "the port is not a number"
    try:
        urlsplit(value).port  # noqa: B018  (reading it checks it)
        url = make_url(value.replace("postgres://", "postgresql://", 1))
    except ValueError as exc:  # urllib: "could not be cast to integer"; SQLAlchemy: int('')
        return not_a_number if "int" in str(exc) else str(exc)
    port = url.query.get("port")
    return not_a_number if isinstance(port, str) and not port.isdigit() else None


DatabaseUrl = Annotated[str, AfterValidator(_check_database_url)]


def _url_with_scheme(schemes: tuple[str, ...], expected: str) -> Any:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            raise fail(f"invalid URL {mask_password(value)!r}", expected)
        if parts.scheme.startswith("redis") and not re.fullmatch(r"/?\d*", parts.path):
            # redis-py reads "/abc" as database 0: the workers, on the database meant,
            # would never see the messages (or share the limits) sent there.
            database, shown = parts.path.lstrip("/"), mask_password(value)
            raise fail(
                f"invalid Redis database {database!r} in {shown!r}",
                "a database number: redis://host:6379/0",
            )
        return value

    return AfterValidator(check)


BrokerUrl = Annotated[
    str,
    _url_with_scheme(
        ("redis", "rediss", "amqp", "amqps"),
        "redis://host:6379/0 or amqp://user:password@host:5672/vhost",
    ),
]
RedisUrl = Annotated[str, _url_with_scheme(("redis", "rediss"), "redis://host:6379/0")]
