"""Settings and sources files: every mistake is a ConfigError naming file, line, key and fix.

Bad-config cases are written as TOML with a `# <-` marker on the line the error must point
at, so the expected line number is read from the case itself and cannot drift from it.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.durations import DurationTooLong, format_duration, parse_duration
from aggregator.errors import ConfigError
from aggregator.models import OrgKind, Selectors, SourceKind
from aggregator.settings import (
    SETTINGS,
    Settings,
    load_settings,
    load_sources,
    resolve_config_dir,
    settings_reference_markdown,
)
from aggregator.settings.app import SettingsFile
from aggregator.settings.tomlfile import KeyLines

ROOT = Path(__file__).resolve().parent.parent

FEED = """\
[[source]]
id = "ok"
name = "A feed"
url = "https://example.org/feed"
kind = "feed"
org = "ngo"
"""


def marked_line(text: str) -> int:
    [line] = [n for n, row in enumerate(text.splitlines(), start=1) if "# <-" in row]
    return line


@dataclasses.dataclass(frozen=True)
class Bad:
    id: str
    text: str
    key: str
    problem: str  # a part of the message
    expected: str  # a part of the expectation


SOURCE_CASES = [
    Bad(
        "unknown-key-with-hint",
        FEED + 'intervall = "2h"  # <-\n',
        "source[0].intervall",
        "unknown key 'intervall'; did you mean 'interval'?",
        "interval",
    ),
    Bad(
        "unknown-timezone",
        FEED + 'timezone = "Europe/Brusels"  # <-\n',
        "source[0].timezone",
        "unknown timezone 'Europe/Brusels'",
        "an IANA zone",
    ),
    Bad(
        "duplicate-id-names-both-lines",
        FEED + FEED.replace('id = "ok"', 'id = "ok"  # <-'),
        "source[1].id",
        "duplicate source id 'ok', first used on line 2",
        "used by one source only",
    ),
    Bad(
        "bad-kind-lists-allowed",
        FEED.replace('kind = "feed"', 'kind = "rss"  # <-'),
        "source[0].kind",
        "invalid value 'rss'",
        "'feed', 'html' or 'ep-procedure'",
    ),
    Bad(
        "bad-org-lists-allowed",
        FEED.replace('org = "ngo"', 'org = "company"  # <-'),
        "source[0].org",
        "invalid value 'company'",
        "'institution', 'parliament', 'government', 'ngo' or 'press'",
    ),
    Bad(
        "html-without-selectors",
        FEED.replace("[[source]]", "[[source]]  # <-").replace('"feed"', '"html"'),
        "source[0].selectors",
        "html source 'ok' has no selectors",
        "[source.selectors] table with item, title and link",
    ),
    Bad(
        "selectors-without-title",
        FEED.replace('"feed"', '"html"') + '[source.selectors]  # <-\nitem = "li"\nlink = "a"\n',
        "source[0].selectors.title",
        "missing required key 'title'",
        "'title'",
    ),
    Bad(
        "selector-not-css",
        FEED.replace('"feed"', '"html"')
        + '[source.selectors]\nitem = "li"\ntitle = "h3[class="  # <-\nlink = "a"\n',
        "source[0].selectors.title",
        "invalid CSS selector 'h3[class='",
        "a CSS selector",
    ),
    Bad(
        "ep-procedure-without-reference",
        FEED.replace("[[source]]", "[[source]]  # <-").replace('"feed"', '"ep-procedure"'),
        "source[0].reference",
        "ep-procedure source 'ok' has no reference",
        "2021/0106(COD)",
    ),
    Bad(
        # Suggested with the procedure its url names, not an example's.
        "ep-procedure-without-reference-named-by-its-url",
        FEED.replace("[[source]]", "[[source]]  # <-")
        .replace('"feed"', '"ep-procedure"')
        .replace(
            'url = "https://example.org/feed"',
            'url = "https://data.europarl.europa.eu/api/v2/procedures/2022-0155"',
        ),
        "source[0].reference",
        "ep-procedure source 'ok' has no reference",
        "reference = '2022/0155(COD)', or the type the procedure has",
    ),
    Bad(
        # A copied entry: the url still names the procedure it came from.
        "procedure-url-of-another-reference",
        FEED.replace('"feed"', '"ep-procedure"').replace(
            'url = "https://example.org/feed"',
            'url = "https://data.europarl.europa.eu/api/v2/procedures/2022-0155?format=x"  # <-',
        )
        + 'reference = "2021/0106(COD)"\n',
        "source[0].url",
        "the url names procedure 2022/0155, the reference 2021/0106(COD)",
        "a url and reference of one procedure",
    ),
    Bad(
        "reference-format",
        FEED.replace('"feed"', '"ep-procedure"') + 'reference = "2022/155"  # <-\n',
        "source[0].reference",
        "invalid procedure reference '2022/155'",
        "'2021/0106(COD)'",
    ),
    Bad(
        "interval-not-a-duration",
        FEED + 'interval = "5 minutes"  # <-\n',
        "source[0].interval",
        "invalid duration '5 minutes'",
        '"30m"',
    ),
    Bad(
        "interval-below-minimum",
        FEED + 'interval = "10s"  # <-\n',
        "source[0].interval",
        "duration '10s' is too short",
        "at least 1m",
    ),
    Bad(
        "interval-beyond-a-year",
        FEED + 'interval = "5000000d"  # <-\n',
        "source[0].interval",
        "duration '5000000d' is too long",
        "at most 365d",
    ),
    Bad(
        # Beyond what a timedelta holds: was an OverflowError, not a config error.
        "interval-minutes-beyond-any-date",
        FEED + "interval = 99999999999999999999  # <-\n",
        "source[0].interval",
        "duration 99999999999999999999 is too long",
        "at most 365d",
    ),
    Bad(
        "default-interval-beyond-a-year",
        '[defaults]\ninterval = "400d"  # <-\n' + FEED,
        "defaults.interval",
        "duration '400d' is too long",
        "at most 365d",
    ),
    Bad(
        "interval-a-boolean-as-toml-writes-it",
        FEED + "interval = true  # <-\n",
        "source[0].interval",
        "invalid duration true",
        '"30m"',
    ),
    Bad(
        "a-table-shown-as-toml-writes-it",
        FEED + "tags = { a = 1 }  # <-\n",
        "source[0].tags",
        "wrong type: { a = 1 }",
        "an array",
    ),
    Bad(
        "source-with-single-brackets",
        FEED.replace("[[source]]", "[source]  # <-"),
        "source",
        "[source] is a single table",
        "write [[source]] (double brackets) for each source",
    ),
    Bad(
        "defaults-with-double-brackets",
        '[[defaults]]  # <-\ninterval = "2h"\n' + FEED,
        "defaults",
        "[[defaults]] is an array of tables",
        "write [defaults] (single brackets), once",
    ),
    Bad(
        # The fix is said as a header is written: [source.selectors], not "source[0]...".
        "selectors-with-double-brackets",
        FEED.replace('kind = "feed"', 'kind = "html"')
        + '[[source.selectors]]  # <-\nitem = "div"\ntitle = "h3"\nlink = "a"\n',
        "source[0].selectors",
        "[[source.selectors]] is an array of tables",
        "write [source.selectors] (single brackets), once",
    ),
    Bad(
        # The slip is the table written before its source, not the [[source]] after it.
        "selectors-before-their-source",
        '[source.selectors]  # <-\nitem = "div"\n' + FEED,
        "",
        "[source.selectors] comes before any [[source]], so [[source]] on line 3",
        "[source.selectors] after the [[source]] it belongs to",
    ),
    Bad(
        "array-of-selectors-before-their-source",
        '[[source.selectors]]  # <-\nitem = "div"\n' + FEED,
        "",
        "[[source.selectors]] comes before any [[source]], so [[source]] on line 3",
        "after the [[source]] it belongs to",
    ),
    Bad(
        "dotted-selectors-key-before-their-source",
        'source.selectors.item = "div"  # <-\n' + FEED,
        "",
        "source.selectors.item = ... comes before any [[source]]",
        "after the [[source]] it belongs to",
    ),
    Bad(
        "misspelt-array-header",
        '[[sourcex]]  # <-\nid = "a"\n',
        "sourcex",
        "unknown key 'sourcex'; did you mean 'source'?",
        "one of defaults, source",
    ),
    Bad(
        "url-port-out-of-range",
        FEED.replace('url = "https://example.org/feed"', 'url = "http://127.0.0.1:99999/f"  # <-'),
        "source[0].url",
        "invalid URL 'http://127.0.0.1:99999/f': Port out of range",
        "a URL like",
    ),
    Bad(
        "url-password-not-repeated",
        FEED.replace(
            'url = "https://example.org/feed"', 'url = "https://u:s3cret@example.org:99999/f"  # <-'
        ),
        "source[0].url",
        # `sources check` goes to CI logs: the password is masked, as `sources --json` does.
        "invalid URL 'https://u:***@example.org:99999/f': Port out of range",
        "a URL like",
    ),
    Bad(
        "url-with-a-space",
        FEED.replace('url = "https://example.org/feed"', 'url = "http://exa mple.org/f"  # <-'),
        "source[0].url",
        "URL 'http://exa mple.org/f' contains spaces or control characters",
        "percent-encoded",
    ),
    Bad(
        "url-with-a-leading-space",
        FEED.replace('url = "https://example.org/feed"', 'url = " https://example.org/f"  # <-'),
        "source[0].url",
        "URL ' https://example.org/f' contains spaces",
        "percent-encoded",
    ),
    Bad(
        "file-url-without-slashes",
        FEED.replace('url = "https://example.org/feed"', 'url = "file:rss.xml"  # <-'),
        "source[0].url",
        "invalid URL 'file:rss.xml'",
        "file:// URL",
    ),
    Bad(
        "url-broken-ipv6",
        FEED.replace('url = "https://example.org/feed"', 'url = "http://[::1/rss.xml"  # <-'),
        "source[0].url",
        "invalid URL 'http://[::1/rss.xml': Invalid IPv6 URL",
        "a URL like",
    ),
    Bad(
        "url-host-label-too-long",
        FEED.replace(
            'url = "https://example.org/feed"', f'url = "http://{"a" * 70}.example/f"  # <-'
        ),
        "source[0].url",
        "invalid host name",
        "a URL like",
    ),
    Bad(
        "url-host-only-a-dot",
        FEED.replace('url = "https://example.org/feed"', 'url = "http://./x"  # <-'),
        "source[0].url",
        "invalid URL 'http://./x': invalid host name '.'",
        "a URL like",
    ),
    Bad(
        "file-url-with-a-host",
        FEED.replace('url = "https://example.org/feed"', 'url = "file://host/tmp/x.xml"  # <-'),
        "source[0].url",
        "a file URL names no host but localhost",
        "a URL like",
    ),
    Bad(
        "item-selector-with-an-attribute",
        FEED.replace('"feed"', '"html"')
        + '[source.selectors]\nitem = "li.item@class"  # <-\ntitle = "h3"\nlink = "a"\n',
        "source[0].selectors.item",
        "item selector 'li.item@class' ends in an @attribute",
        "a plain CSS selector",
    ),
    Bad(
        "enabled-a-number",
        FEED + "enabled = 1  # <-\n",
        "source[0].enabled",
        "wrong type: 1",
        "true or false",
    ),
    Bad(
        "enabled-in-quotes",
        FEED + 'enabled = "no"  # <-\n',
        "source[0].enabled",
        "'no' is text, in quotes",
        "true or false, without quotes",
    ),
    Bad(
        "url-scheme",
        FEED.replace('url = "https://example.org/feed"', 'url = "ftp://example.org/f"  # <-'),
        "source[0].url",
        "invalid URL 'ftp://example.org/f'",
        "http://, https:// or file://",
    ),
    Bad(
        "language-three-letters",
        FEED + 'language = "eng"  # <-\n',
        "source[0].language",
        "invalid language code 'eng'",
        "2-letter ISO 639-1",
    ),
    Bad(
        "country-lower-case",
        FEED + 'country = "de"  # <-\n',
        "source[0].country",
        "invalid country code 'de'",
        "upper case",
    ),
    Bad(
        "country-that-does-not-exist",
        FEED + 'country = "QQ"  # <-\n',
        "source[0].country",
        "unknown country code 'QQ'",
        "ISO 3166-1",
    ),
    Bad(
        "language-that-does-not-exist",
        FEED + 'language = "qq"  # <-\n',
        "source[0].language",
        "unknown language code 'qq'",
        "ISO 639-1",
    ),
    Bad(
        "id-not-a-slug",
        FEED.replace('id = "ok"', 'id = "Not OK"  # <-'),
        "source[0].id",
        "invalid id 'Not OK'",
        "lower-case letters",
    ),
    Bad(
        "missing-url-points-at-table",
        FEED
        + FEED.replace("[[source]]", "[[source]]  # <-")
        .replace('url = "https://example.org/feed"\n', "")
        .replace('"ok"', '"two"'),
        "source[1].url",
        "missing required key 'url'",
        "'url'",
    ),
    Bad(
        "sub-table-of-the-third-source",
        FEED
        + FEED.replace('"ok"', '"two"')
        + FEED.replace('"ok"', '"three"').replace('"feed"', '"html"')
        + '[source.selectors]\nitem = "li"\ntitle = "h3"\nlink = "a"\ndate = "time@"  # <-\n',
        "source[2].selectors.date",
        "selector 'time@': no attribute name follows the @",
        "optionally ending in @attribute",
    ),
    Bad(
        "attribute-inside-a-selector-group",
        FEED.replace('"feed"', '"html"')
        + '[source.selectors]\nitem = "li"\ntitle = "h3"\nlink = "a"\n'
        + 'date = "time@datetime, span.d"  # <-\n',
        "source[0].selectors.date",
        "@attribute may only end the whole selector, once",
        "optionally ending in @attribute",
    ),
    Bad(
        "empty-item-selector",
        FEED.replace('"feed"', '"html"')
        + '[source.selectors]\nitem = ""  # <-\ntitle = "h3"\nlink = "a"\n',
        "source[0].selectors.item",
        "invalid CSS selector ''",
        "a plain CSS selector of one entry",
    ),
    Bad(
        "selectors-of-a-feed",
        FEED + '[source.selectors]  # <-\nitem = "li"\n',
        "source[0].selectors",
        "selectors are only read for html sources, not feed",
        'or kind = "html"',
    ),
    Bad(
        "reference-of-a-feed",
        FEED + 'reference = "2022/0155(COD)"  # <-\n',
        "source[0].reference",
        "reference is only read for ep-procedure sources, not feed",
        'or kind = "ep-procedure"',
    ),
    Bad(
        "wrong-type-in-list",
        FEED + 'tags = ["ok", 3]  # <-\n',
        "source[0].tags[1]",
        "wrong type: 3",
        "a string",
    ),
    Bad(
        # An array spanning lines: each element is said on its own line, not on the line
        # `tags = [` began on; a comment in the array, with a bracket and quotes, is skipped.
        "tag-in-an-array-spanning-lines",
        FEED + 'tags = [\n  "ok",  # a comment: ] and "quotes"\n  "fine",\n  "Not OK",  # <-\n]\n',
        "source[0].tags[2]",
        "invalid tag 'Not OK'",
        "lower-case tag name",
    ),
    Bad(
        "tag-after-multi-line-strings",
        FEED + 'tags = [\n  \'\'\'ok\'\'\', """\nfine""",\n  "Not OK",  # <-\n]\n',
        "source[0].tags[2]",
        "invalid tag 'Not OK'",
        "lower-case tag name",
    ),
    Bad(
        "tag-in-an-array-spanning-crlf-lines",
        (FEED + 'tags = [\n  "ok",\n  "Not OK",  # <-\n]\n').replace("\n", "\r\n"),
        "source[0].tags[1]",
        "invalid tag 'Not OK'",
        "lower-case tag name",
    ),
    Bad(
        # Sources as an array of inline tables: a key is said on the line of its table, past
        # a string holding `]`, `{`, `,` and `#`.
        "unknown-key-in-an-inline-table",
        "source = [\n"
        '  { id = "a", name = "A ], { # ", url = "https://example.org/a", kind = "feed",'
        ' org = "ngo" },\n'
        '  { id = "b", name = "B", url = "https://example.org/b", kind = "feed", org = "ngo",'
        ' intervall = "2h" },  # <-\n'
        "]\n",
        "source[1].intervall",
        "unknown key 'intervall'",
        "interval",
    ),
    Bad(
        "unknown-key-in-an-inline-table-crlf",
        (
            "source = [\n"
            '  { id = "a", name = "A", url = "https://example.org/a", kind = "feed",'
            ' org = "ngo" },\n'
            '  { id = "b", name = "B", url = "https://example.org/b", kind = "feed", org = "ngo",'
            ' intervall = "2h" },  # <-\n'
            "]\n"
        ).replace("\n", "\r\n"),
        "source[1].intervall",
        "unknown key 'intervall'",
        "interval",
    ),
    Bad(
        # An array in an inline table, spanning lines of its own.
        "tag-in-an-array-in-an-inline-table",
        "source = [\n"
        '  { id = "a", name = "A", url = "https://example.org/a", kind = "feed", org = "ngo",'
        " tags = [\n"
        '      "ok",\n'
        '      "Not OK",  # <-\n'
        "  ] },\n"
        "]\n",
        "source[0].tags[1]",
        "invalid tag 'Not OK'",
        "lower-case tag name",
    ),
    Bad(
        "toml-syntax-error",
        FEED + 'name "no equals sign"  # <-\n',
        "",
        "TOML syntax error: a key without '='",
        "key = value",
    ),
    Bad(
        # The decoder says "Unclosed array" on the next element's line.
        "toml-missing-comma-in-an-array",
        FEED + 'tags = [\n  "one",\n  "two"\n  "three",  # <-\n]\n',
        "",
        "a ',' is missing after line 9, or the array's ']' before this line",
        "',' after each element of the array, and ']' to close it",
    ),
    Bad(
        # The decoder says "Invalid value" of the next table's header.
        "toml-array-never-closed",
        FEED + 'tags = [\n  "one",  # a [ comment\n  "two",\n\n[[source]]  # <-\nid = "b"\n',
        "",
        "the array opened on line 7 is not closed before this table",
        "']' to close the array",
    ),
    Bad(
        "toml-unquoted-text",
        FEED + "language = de  # <-\n",
        "",
        "TOML syntax error: invalid value",
        'a value: a "quoted string", a number',
    ),
]

SETTINGS_CASES = [
    Bad(
        "user-agent-not-ascii",
        '[fetch]\nuser_agent = "agrégateur/1.0"  # <-\n',
        "fetch.user_agent",
        "user agent 'agrégateur/1.0' cannot be sent in an HTTP header",
        "printable ASCII",
    ),
    Bad(
        "contact-with-a-line-break",
        '[fetch]\ncontact = "mailto:a@example.org\\r\\nX-Evil: 1"  # <-\n',
        "fetch.contact",
        "cannot be sent in an HTTP header",
        "printable ASCII",
    ),
    Bad(
        "unknown-fetch-key-with-hint",
        "[fetch]\nread_timout = 5  # <-\n",
        "fetch.read_timout",
        "did you mean 'read_timeout'?",
        "read_timeout",
    ),
    Bad(
        "cron-four-fields",
        '[digest.profiles.daily]\ncron = "0 7 * *"  # <-\n',
        "digest.profiles.daily.cron",
        "invalid cron expression '0 7 * *': 4 fields",
        "5-field cron",
    ),
    Bad(
        "cron-out-of-range",
        '[digest.profiles.daily]\ncron = "61 7 * * *"  # <-\n',
        "digest.profiles.daily.cron",
        "invalid cron expression '61 7 * * *'",
        "5-field cron",
    ),
    Bad(
        "unknown-timezone",
        '[digest.profiles.daily]\ntimezone = "Europe/Brusels"  # <-\n',
        "digest.profiles.daily.timezone",
        "unknown timezone 'Europe/Brusels'",
        "IANA zone",
    ),
    Bad(
        "smtp-password-in-file",
        '[smtp]\nhost = "mail.example.org"\npassword = "hunter2"  # <-\n',
        "smtp.password",
        "must not be written in a config file",
        "AGGREGATOR_SMTP_PASSWORD",
    ),
    Bad(
        "api-token-in-file",
        '[api]\ntoken = "s3cret"  # <-\n',
        "api.token",
        "must not be written in a config file",
        "AGGREGATOR_API_TOKEN",
    ),
    Bad(
        "smtp-host-without-sender",
        '[smtp]  # <-\nhost = "mail.example.org"\n',
        "smtp",
        "smtp.sender is required when smtp.host is set",
        "sender",
    ),
    Bad(
        "bad-log-level",
        'log_level = "LOUD"  # <-\n',
        "log_level",
        "invalid value 'LOUD'",
        "'DEBUG'",
    ),
    Bad(
        "unknown-format",
        '[digest.profiles.daily]\nformats = ["html", "pdf"]  # <-\n',
        "digest.profiles.daily.formats[1]",
        "invalid value 'pdf'",
        "'markdown'",
    ),
    Bad(
        # An array spanning lines: the element's own line, past a string holding `]` and `#`.
        "recipient-in-an-array-spanning-lines",
        "[digest.profiles.daily]\nrecipients = [\n"
        "  '\"Desk ] # 1\" <a@example.org>',\n"
        '  "ops",  # <-\n'
        "]\n",
        "digest.profiles.daily.recipients[1]",
        "invalid email address 'ops'",
        "a@example.org",
    ),
    Bad(
        "format-in-an-array-spanning-crlf-lines",
        '[digest.profiles.daily]\r\nformats = [\r\n  "html",\r\n  "pdf",  # <-\r\n]\r\n',
        "digest.profiles.daily.formats[1]",
        "invalid value 'pdf'",
        "'markdown'",
    ),
    Bad(
        # A profile written as an inline table, with an array of its own spanning lines.
        "recipient-in-an-inline-table",
        '[digest]\nprofiles.daily = { cron = "0 7 * * *", recipients = [\n'
        '  "a@example.org",\n'
        '  "ops",  # <-\n'
        "] }\n",
        "digest.profiles.daily.recipients[1]",
        "invalid email address 'ops'",
        "a@example.org",
    ),
    Bad(
        "port-out-of-range",
        "[api]\nport = 70000  # <-\n",
        "api.port",
        "value 70000 is out of range",
        "at most 65535",
    ),
    Bad(
        "min-interval-above-max",
        # The line of max_interval, not the table's header (which named no key).
        '[schedule]\nmin_interval = "2d"\nmax_interval = "1d"  # <-\n',
        "schedule.max_interval",
        "min_interval is longer than schedule.max_interval",
        "min_interval <= max_interval",
    ),
    Bad(
        "schedule-duration",
        '[schedule]\nmax_backoff = "half a day"  # <-\n',
        "schedule.max_backoff",
        "invalid duration 'half a day'",
        '"2h"',
    ),
    Bad(
        "max-backoff-beyond-a-year",
        '[schedule]\nmax_backoff = "10000000d"  # <-\n',
        "schedule.max_backoff",
        "duration '10000000d' is too long",
        "at most 365d",
    ),
    Bad(
        "max-interval-beyond-a-year",
        '[schedule]\nmax_interval = "3000000d"  # <-\n',
        "schedule.max_interval",
        "duration '3000000d' is too long",
        "at most 365d",
    ),
    Bad(
        "lease-beyond-a-year",
        '[workers]\nlease = "366d"  # <-\n',
        "workers.lease",
        "duration '366d' is too long",
        "at most 365d",
    ),
    Bad(
        "tick-beyond-a-day",
        "[schedule]\ntick_seconds = 99999999999  # <-\n",
        "schedule.tick_seconds",
        "value 99999999999 is out of range",
        "at most 86400",
    ),
    Bad(
        # It was "digest.profiles.DE_Weekly.[key]": pydantic's mark of a key at fault.
        "profile-name-not-an-id",
        '[digest.profiles.DE_Weekly]  # <-\nrecipients = ["ops@example.org"]\n',
        "digest.profiles.DE_Weekly",
        "invalid id 'DE_Weekly'",
        "lower-case letters, digits",
    ),
    Bad(
        "recipient-not-an-address",
        '[digest.profiles.daily]\nrecipients = ["ops"]  # <-\n',
        "digest.profiles.daily.recipients[0]",
        "invalid email address 'ops'",
        "a@example.org",
    ),
    Bad(
        # To a mail reader, an unquoted comma makes two mailboxes of one.
        "recipient-name-with-a-bare-comma",
        '[digest.profiles.daily]\nrecipients = ["Watch, CSA <d@example.org>"]  # <-\n',
        "digest.profiles.daily.recipients[0]",
        "invalid email address 'Watch, CSA <d@example.org>'",
        '"News, Desk" <a@example.org>',
    ),
    Bad(
        # A line break ended the Subject and began a header of its own ("Bcc:"); the mail
        # module refused it only when sending, with a traceback that stopped the service.
        "subject-prefix-with-a-line-break",
        '[digest.profiles.daily]\nsubject_prefix = "CSA\\nBcc: x@example.org"  # <-\n',
        "digest.profiles.daily.subject_prefix",
        "'CSA\\nBcc: x@example.org' has control characters (\\n)",
        "text on one line",
    ),
    Bad(
        "sender-with-a-line-break",
        '[smtp]\nhost = "mx.example.org"\nsender = "Watch\\r\\n <w@example.org>"  # <-\n',
        "smtp.sender",
        "has control characters (\\n, \\r)",
        "text on one line",
    ),
    Bad(
        # Accepted, `inf` crashed the send (a socket timeout beyond time_t) and left the
        # outbox row "sending"; as backoff_base it hung a refresh.
        "smtp-timeout-infinite",
        "[smtp]\ntimeout = inf  # <-\n",
        "smtp.timeout",
        "value inf is out of range",
        "at most 3600",
    ),
    Bad(
        "backoff-base-beyond-an-hour",
        "[fetch]\nbackoff_base = 1e12  # <-\n",
        "fetch.backoff_base",
        "is out of range",
        "at most 3600",
    ),
    Bad(
        "too-many-retries",
        "[fetch]\nretries = 50  # <-\n",
        "fetch.retries",
        "value 50 is out of range",
        "at most 10",
    ),
    Bad(
        "recipient-not-ascii",
        '[digest.profiles.daily]\nrecipients = ["zoë@example.org"]  # <-\n',
        "digest.profiles.daily.recipients[0]",
        "invalid email address 'zoë@example.org'",
        "one ASCII address",
    ),
    Bad(
        "recipient-angle-not-closed",
        '[digest.profiles.daily]\nrecipients = ["CSA <broken@example.org"]  # <-\n',
        "digest.profiles.daily.recipients[0]",
        "invalid email address 'CSA <broken@example.org'",
        "Name <a@example.org>",
    ),
    Bad(
        "sender-name-without-an-address",
        '[smtp]\nhost = "mx.example.org"\nsender = "CSA Watch <digest>"  # <-\n',
        "smtp.sender",
        "invalid email address 'CSA Watch <digest>'",
        "Name <a@example.org>",
    ),
    Bad(
        "retries-a-boolean",
        "[fetch]\nretries = true  # <-\n",
        "fetch.retries",
        "wrong type: true",  # as TOML spells it, not Python's True
        "an integer",
    ),
    Bad(
        "max-bytes-a-float",
        "[fetch]\nmax_bytes = 1e6  # <-\n",
        "fetch.max_bytes",
        "wrong type: 1000000.0",
        "an integer",
    ),
    Bad(
        "keep-days-beyond-a-century",
        "[retention]\nkeep_days = 999999  # <-\n",
        "retention.keep_days",
        "value 999999 is out of range",
        "at most 36500",
    ),
    Bad(
        "no-digest-format",
        "[digest.profiles.daily]\nformats = []  # <-\n",
        "digest.profiles.daily.formats",
        "too few values: []",
        "an array of at least 1 value",
    ),
    Bad(
        "retries-in-quotes",
        '[fetch]\nretries = "3"  # <-\n',
        "fetch.retries",
        "'3' is text, in quotes",
        "an integer, without quotes",
    ),
    Bad(
        "timeout-in-quotes",
        '[fetch]\nconnect_timeout = "2.0"  # <-\n',
        "fetch.connect_timeout",
        "'2.0' is text, in quotes",
        "a number, without quotes",
    ),
    Bad(
        "send-empty-in-quotes",
        '[digest.profiles.daily]\nsend_empty = "no"  # <-\n',
        "digest.profiles.daily.send_empty",
        "'no' is text, in quotes",
        "true or false, without quotes",
    ),
    Bad(
        "database-url-scheme",
        'database_url = "mysql://db/aggregator"  # <-\n',
        "database_url",
        "unsupported database in database URL",
        "postgresql+psycopg",
    ),
    Bad(
        "database-url-driver-not-installed",
        'database_url = "postgresql+psycopg2://u@db/aggregator"  # <-\n',
        "database_url",
        "driver 'psycopg2' is not installed in database URL",
        "postgresql+psycopg://",
    ),
    Bad(
        "database-url-port",
        'database_url = "postgresql+psycopg://u@127.0.0.1:notaport/db"  # <-\n',
        "database_url",
        "invalid database URL 'postgresql+psycopg://u@127.0.0.1:notaport/db': the port is "
        "not a number",
        "user@host:5432/db",
    ),
    Bad(
        "database-url-empty-port",
        'database_url = "postgresql://u@127.0.0.1:/db"  # <-\n',
        "database_url",
        "invalid database URL 'postgresql://u@127.0.0.1:/db': the port is not a number",
        "user@host:5432/db",
    ),
    Bad(
        "database-url-sqlite-without-a-file",
        'database_url = "sqlite:///"  # <-\n',
        "database_url",
        "database URL 'sqlite:///' names no database file",
        "a file path like 'sqlite:///var/aggregator.sqlite'",
    ),
    Bad(
        "database-url-sqlite-in-memory",
        'database_url = "sqlite:///:memory:"  # <-\n',
        "database_url",
        "database URL 'sqlite:///:memory:' names no database file",
        "a file path like 'sqlite:///var/aggregator.sqlite'",
    ),
    Bad(
        "database-url-password-masked",
        'database_url = "postgresql+psycopg2://u:S3cret@db/a"  # <-\n',
        "database_url",
        "driver 'psycopg2' is not installed in database URL 'postgresql+psycopg2://u:***@db/a'",
        "postgresql+psycopg://",
    ),
]


def assert_points_at(error: ConfigError, path: Path, case: Bad) -> None:
    assert error.file == str(path)
    assert error.line == marked_line(case.text), str(error)
    if case.key:
        assert error.key == case.key
    assert case.problem in error.problem
    assert error.expected is not None and case.expected in error.expected
    # The rendered message carries all of it, as the CLI prints it.
    assert str(error).startswith(f"{path}:{error.line}")
    assert case.problem in str(error)


def test_a_selector_browsers_take_is_no_config_error(tmp_path: Path) -> None:
    # ":has(> h3 a)" was "invalid CSS selector ... complex selectors ... is not allowed".
    html = FEED.replace('kind = "feed"', 'kind = "html"')
    (tmp_path / "sources.toml").write_text(
        html + '[source.selectors]\nitem = "li:has(> h3 a)"\ntitle = "h3"\nlink = "h3 a"\n',
        encoding="utf-8",
    )
    (source,) = load_sources(tmp_path)
    assert source.selectors is not None and source.selectors.item == "li:has(> h3 a)"


@pytest.mark.parametrize("case", SOURCE_CASES, ids=lambda case: case.id)
def test_bad_sources_file(tmp_path: Path, case: Bad) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(case.text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_sources(tmp_path)
    assert_points_at(caught.value, path, case)


@pytest.mark.parametrize("case", SETTINGS_CASES, ids=lambda case: case.id)
def test_bad_settings_file(tmp_path: Path, case: Bad) -> None:
    path = tmp_path / "aggregator.toml"
    path.write_text(case.text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {})
    assert_points_at(caught.value, path, case)


def test_several_problems_are_counted_and_the_first_by_line_reported(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(
        FEED + 'language = "EN"\ncountry = "xx"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_sources(tmp_path)
    assert caught.value.key == "source[0].language"
    assert (
        caught.value.more
        == "and 1 more problem: line 8, source[0].country: invalid country code 'xx'"
        " (expected a 2-letter ISO 3166-1 code in upper case, like 'DE', or the EU's EU, EL"
        " or UK)"
    )
    # The first problem's expectation comes before the others, so it reads as its own.
    assert str(caught.value).endswith(
        "(expected a 2-letter ISO 639-1 code in lower case, like 'de'); " + caught.value.more
    )


def test_every_problem_of_a_settings_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "aggregator.toml").write_text(
        '[fetch]\ntimeoutt = 3\nmax_connections = "many"\n\n[schedule]\nmin_intervall = "1m"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {})
    text = str(caught.value)
    assert "aggregator.toml:2: fetch.timeoutt: unknown key" in text
    assert text.index("(expected") < text.index("2 more problems")
    assert "2 more problems" in text
    assert "line 3, fetch.max_connections" in text
    assert "line 6, schedule.min_intervall: unknown key 'min_intervall'; did you mean" in text
    # Each of the others says what was expected too.
    assert "line 3, fetch.max_connections: 'many' is text, in quotes (expected an integer" in text
    assert text.count("(expected") == 3


def test_every_kind_of_problem_of_a_sources_file_is_named_in_one_run(tmp_path: Path) -> None:
    # A wrong value hid the rules checked across fields and sources (selectors for an html
    # source, a reference for an ep-procedure one, ids used twice): one kind a run.
    sources = (
        FEED.replace('org = "ngo"', 'org = "ngx"')
        + "\n"
        + FEED.replace('"feed"', '"html"').replace('name = "A feed"', 'name = "B"')
        + "\n"
        + FEED.replace('id = "ok"', 'id = "c"').replace('"feed"', '"ep-procedure"')
        + "\n"
        + FEED.replace('id = "ok"', 'id = "d"')
        + 'enabled = "yes"\n'
    )
    (tmp_path / "sources.toml").write_text(sources, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_sources(tmp_path)
    assert (caught.value.line, caught.value.key) == (6, "source[0].org")
    more = caught.value.more or ""
    assert "and 4 more problems" in more
    assert "line 8, source[1].selectors: html source 'ok' has no selectors" in more
    assert "line 9, source[1].id: duplicate source id 'ok', first used on line 2" in more
    assert "source[2].reference: ep-procedure source 'c' has no reference" in more
    assert "source[3].enabled: 'yes' is text, in quotes" in more
    # Once the values are right, the rules are all said in one run too.
    (tmp_path / "sources.toml").write_text(
        sources.replace('"ngx"', '"ngo"').replace('enabled = "yes"', "enabled = true"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_sources(tmp_path)
    assert caught.value.key == "source[1].selectors"
    assert (caught.value.more or "").startswith("and 2 more problems: line 9, source[1].id")


def test_a_later_problem_from_the_environment_names_its_variable(tmp_path: Path) -> None:
    (tmp_path / "aggregator.toml").write_text(
        '[schedule]\nmin_interval = "2h"\nmax_interval = "1h"\n\n[smtp]\nhost = "mail"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {"AGGREGATOR_SMTP_PORT": "0"})
    assert caught.value.more is not None
    assert "AGGREGATOR_SMTP_PORT (environment), smtp.port: value '0'" in caught.value.more
    assert "line" not in caught.value.more


def test_a_later_wrong_type_says_what_was_expected(tmp_path: Path) -> None:
    html = FEED.replace('"feed"', '"html"')
    (tmp_path / "sources.toml").write_text(
        html + '[source.selectors]\nitem = 3\ntitle = 4\nlink = "a"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_sources(tmp_path)
    assert caught.value.more == (
        "and 1 more problem: line 9, source[0].selectors.title: wrong type: 4 (expected a string)"
    )


def test_a_missing_config_folder_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does-not-exist: config folder not found"):
        load_sources(tmp_path / "does-not-exist")
    (tmp_path / "sources.toml").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sources\.toml: not a folder"):
        load_sources(tmp_path / "sources.toml")


def test_missing_sources_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sources\.toml: file not found"):
        load_sources(tmp_path)


# --- sources: what a valid file gives -----------------------------------------------------


def test_sources_are_read_into_records(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(
        """\
[defaults]
interval = "2h"

[[source]]
id = "ep-libe"
name = "LIBE"
url = "https://www.europarl.europa.eu/committees/en/libe/home/highlights"
kind = "html"
org = "parliament"
institution = "European Parliament"
language = "en"
interval = 45
tags = ["csar"]
verified = false

[source.selectors]
item = "div.item"
title = "h3"
link = "a"
date = "time@datetime"

[[source]]
id = "proc-csar"
name = "2022/0155(COD)"
url = "file:///srv/dumps/2022-0155.json"
kind = "ep-procedure"
org = "parliament"
reference = "2022/0155(COD)"
enabled = false

[[source]]
id = "netzpolitik"
name = "netzpolitik.org"
url = "https://netzpolitik.org/feed/"
kind = "feed"
org = "press"
country = "DE"
language = "de"
""",
        encoding="utf-8",
    )
    libe, procedure, press = load_sources(tmp_path)
    assert libe.kind is SourceKind.HTML and libe.org is OrgKind.PARLIAMENT
    assert libe.interval == timedelta(minutes=45)  # a bare integer is minutes
    assert libe.selectors == Selectors(item="div.item", title="h3", link="a", date="time@datetime")
    assert (libe.tags, libe.verified, libe.institution) == (("csar",), False, "European Parliament")
    assert procedure.reference == "2022/0155(COD)" and procedure.enabled is False
    assert procedure.interval == timedelta(hours=2)  # from [defaults]
    assert (press.country, press.language, press.verified, press.selectors) == (
        "DE",
        "de",
        True,
        None,
    )


def test_a_sources_time_zone_is_its_own_else_its_countrys_else_the_default(
    tmp_path: Path,
) -> None:
    def feed(source_id: str, extra: str = "") -> str:
        return FEED.replace('id = "ok"', f'id = "{source_id}"') + extra + "\n"

    (tmp_path / "sources.toml").write_text(
        '[defaults]\ntimezone = "Europe/Brussels"\n\n'
        + feed("own", 'country = "DE"\ntimezone = "Europe/Lisbon"')
        + feed("country", 'country = "PL"')
        # The EU's own codes for Greece and the United Kingdom: read in Brussels time, an
        # hour off, before.
        + feed("eu-greece", 'country = "EL"')
        + feed("eu-uk", 'country = "UK"')
        + feed("eu-institution", 'country = "EU"')  # no zone of its own
        + feed("default"),
        encoding="utf-8",
    )
    zones = {s.id: s.timezone for s in load_sources(tmp_path)}
    assert zones == {
        "own": "Europe/Lisbon",
        "country": "Europe/Warsaw",
        "eu-greece": "Europe/Athens",
        "eu-uk": "Europe/London",
        "eu-institution": "Europe/Brussels",
        "default": "Europe/Brussels",
    }
    (tmp_path / "sources.toml").write_text(feed("bare"), encoding="utf-8")
    assert [s.timezone for s in load_sources(tmp_path)] == [None]


def test_interval_defaults_to_one_hour_without_defaults_table(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(FEED, encoding="utf-8")
    [source] = load_sources(tmp_path)
    assert source.interval == timedelta(hours=1)


# --- settings: defaults, environment, precedence ------------------------------------------


def test_defaults_when_settings_file_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(tmp_path / "config", {})
    assert settings.config_dir == tmp_path / "config"
    assert settings.data_dir == tmp_path / "var"
    assert settings.database_url == f"sqlite:///{tmp_path}/var/aggregator.sqlite"
    assert settings.log_level == "INFO"
    assert settings.fetch.user_agent == "aggregator/0.1" and settings.fetch.contact is None
    assert settings.fetch.max_bytes == 10 * 1024 * 1024
    assert settings.schedule.min_interval == timedelta(minutes=5)
    assert settings.schedule.max_interval == timedelta(days=1)
    assert settings.schedule.max_backoff == timedelta(hours=12)
    assert settings.dedupe.window_days == 30
    assert (settings.retention.keep_days, settings.retention.keep_digest_days) == (365, 30)
    assert settings.smtp is None
    assert (settings.api.host, settings.api.port, settings.api.token) == ("127.0.0.1", 8080, None)
    [daily] = settings.digest.profiles
    assert daily.name == "daily" and daily.include_tags == () and daily.recipients == ()
    assert (daily.cron, daily.timezone) == ("0 7 * * *", "Europe/Brussels")
    assert daily.formats == ("html", "text", "markdown", "json") and daily.send_empty is False


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "aggregator.toml").write_text(
        """\
data_dir = "/srv/from-file"
database_url = "sqlite:////srv/from-file.sqlite"
log_level = "warning"
[fetch]
contact = "https://example.org/contact"
[smtp]
host = "file.example.org"
port = 25
username = "file-user"
sender = "digest@example.org"
[api]
host = "0.0.0.0"
port = 9000
""",
        encoding="utf-8",
    )
    env = {
        "AGGREGATOR_DATA_DIR": "/srv/from-env",
        "AGGREGATOR_DATABASE_URL": "postgresql+psycopg://u@db/agg",
        "AGGREGATOR_LOG_LEVEL": "debug",
        "AGGREGATOR_CONTACT": "mailto:ops@example.org",
        "AGGREGATOR_SMTP_HOST": "env.example.org",
        "AGGREGATOR_SMTP_PORT": "465",
        "AGGREGATOR_SMTP_USERNAME": "env-user",
        "AGGREGATOR_SMTP_PASSWORD": "from-env-only",
        "AGGREGATOR_API_TOKEN": "t0ken",
        "AGGREGATOR_API_HOST": "127.0.0.2",
        "AGGREGATOR_API_PORT": "9100",
    }
    settings = load_settings(tmp_path, env)
    assert settings.data_dir == Path("/srv/from-env")
    assert settings.database_url == "postgresql+psycopg://u@db/agg"
    assert settings.log_level == "DEBUG"
    assert settings.fetch.contact == "mailto:ops@example.org"
    assert settings.smtp is not None
    assert (settings.smtp.host, settings.smtp.port) == ("env.example.org", 465)
    assert (settings.smtp.username, settings.smtp.password) == ("env-user", "from-env-only")
    assert settings.smtp.sender == "digest@example.org"  # not overridden: the file's
    assert (settings.api.host, settings.api.port, settings.api.token) == (
        "127.0.0.2",
        9100,
        "t0ken",
    )
    # Without the environment, the file's values stand.
    plain = load_settings(tmp_path, {})
    assert (plain.data_dir, plain.api.port, plain.smtp and plain.smtp.port) == (
        Path("/srv/from-file"),
        9000,
        25,
    )


def test_every_declared_environment_variable_is_read(tmp_path: Path) -> None:
    samples = {
        "AGGREGATOR_DATA_DIR": ("data_dir", "/srv/x", Path("/srv/x")),
        "AGGREGATOR_DATABASE_URL": ("database_url", "sqlite:////x.db", "sqlite:////x.db"),
        "AGGREGATOR_LOG_LEVEL": ("log_level", "ERROR", "ERROR"),
        "AGGREGATOR_CONTACT": ("fetch.contact", "mailto:a@b.org", "mailto:a@b.org"),
        "AGGREGATOR_PARSE_PROCESSES": ("fetch.parse_processes", "3", 3),
        "AGGREGATOR_SMTP_HOST": ("smtp.host", "mx.example.org", "mx.example.org"),
        "AGGREGATOR_SMTP_PORT": ("smtp.port", "2525", 2525),
        "AGGREGATOR_SMTP_USERNAME": ("smtp.username", "u", "u"),
        "AGGREGATOR_SMTP_PASSWORD": ("smtp.password", "p", "p"),
        "AGGREGATOR_API_TOKEN": ("api.token", "t", "t"),
        "AGGREGATOR_API_HOST": ("api.host", "::1", "::1"),
        "AGGREGATOR_API_PORT": ("api.port", "1234", 1234),
        "AGGREGATOR_BROKER_URL": ("workers.broker_url", "amqp://u:p@mq/", "amqp://u:p@mq/"),
        "AGGREGATOR_LIMITER_URL": ("workers.limiter_url", "redis://r:6379/1", "redis://r:6379/1"),
        "AGGREGATOR_WORKER_QUEUE": ("workers.queue", "refresh-eu", "refresh-eu"),
    }
    declared = {spec.env for spec in SETTINGS if spec.env} - {"AGGREGATOR_CONFIG"}
    assert declared == set(samples)
    (tmp_path / "aggregator.toml").write_text(
        '[smtp]\nhost = "base.example.org"\nsender = "d@example.org"\n', encoding="utf-8"
    )
    for variable, (name, raw, expected) in samples.items():
        settings = load_settings(tmp_path, {variable: raw})
        value: Any = settings
        for part in name.split("."):
            value = getattr(value, part)
        assert value == expected, variable


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("AGGREGATOR_API_PORT", "http", "an integer"),
        ("AGGREGATOR_SMTP_PORT", "0", "at least 1"),
        ("AGGREGATOR_LOG_LEVEL", "chatty", "'DEBUG'"),
        ("AGGREGATOR_CONTACT", "ops", "mailto:"),
        ("AGGREGATOR_DATABASE_URL", "oracle://x", "sqlite:///"),
        # `sqlite:///${DB}` with DB unset: an in-memory database, every refresh lost.
        ("AGGREGATOR_DATABASE_URL", "sqlite:///", "a file path like 'sqlite:///var/"),
        ("AGGREGATOR_DATABASE_URL", "sqlite://", "a file path like 'sqlite:///var/"),
        ("AGGREGATOR_DATABASE_URL", "sqlite:///:memory:", "a file path like 'sqlite:///var/"),
        # SQLite URI filenames that name no file either.
        ("AGGREGATOR_DATABASE_URL", "sqlite:///file::memory:?uri=true", "a file path like"),
        ("AGGREGATOR_DATABASE_URL", "sqlite:///file:?uri=true", "a file path like"),
        ("AGGREGATOR_BROKER_URL", "redis://127.0.0.1:6379/abc", "a database number"),
        ("AGGREGATOR_LIMITER_URL", "redis://127.0.0.1:6379/xyz", "a database number"),
    ],
)
def test_bad_environment_value_names_the_variable(variable: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(Path("/nonexistent"), {variable: value})
    error = caught.value
    assert (error.file, error.key, error.line) == ("environment", variable, None)
    assert error.expected is not None and expected in error.expected
    assert str(error).startswith(f"environment: {variable}: ")


def test_empty_environment_variable_means_unset(tmp_path: Path) -> None:
    (tmp_path / "aggregator.toml").write_text("[api]\nport = 9000\n", encoding="utf-8")
    assert load_settings(tmp_path, {"AGGREGATOR_API_PORT": ""}).api.port == 9000


def test_addresses_may_carry_a_display_name(tmp_path: Path) -> None:
    (tmp_path / "aggregator.toml").write_text(
        '[smtp]\nhost = "mx.example.org"\nsender = "CSA Watch <digest@example.org>"\n'
        "[digest.profiles.daily]\n"
        'recipients = ["Zoë Policy <z@ngo.example>", \'"Desk, Press" <p@ngo.example>\', '
        '"plain@ngo.example"]\n',
        encoding="utf-8",
    )
    settings = load_settings(tmp_path, {})
    assert settings.smtp is not None
    assert settings.smtp.sender == "CSA Watch <digest@example.org>"
    assert settings.digest.profiles[0].recipients == (
        "Zoë Policy <z@ngo.example>",
        '"Desk, Press" <p@ngo.example>',
        "plain@ngo.example",
    )


def test_smtp_is_configured_from_the_environment_alone(tmp_path: Path) -> None:
    (tmp_path / "aggregator.toml").write_text(
        '[smtp]\nsender = "d@example.org"\n', encoding="utf-8"
    )
    assert load_settings(tmp_path, {}).smtp is None
    smtp = load_settings(tmp_path, {"AGGREGATOR_SMTP_HOST": "mx.example.org"}).smtp
    assert smtp is not None and (smtp.host, smtp.port, smtp.security) == (
        "mx.example.org",
        587,
        "starttls",
    )


def test_digest_profiles_keep_file_order_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "aggregator.toml").write_text(
        """\
[digest]
topic_order = ["csar", "encryption"]
[digest.profiles.weekly]
recipients = ["a@example.org", "b@example.org"]
include_tags = ["csar"]
exclude_tags = ["dsa"]
cron = "0 8 * * 1"
timezone = "UTC"
formats = ["text"]
send_empty = true
subject_prefix = "[weekly]"
[digest.profiles.morning]
""",
        encoding="utf-8",
    )
    digest = load_settings(tmp_path, {}).digest
    assert digest.topic_order == ("csar", "encryption")
    weekly, morning = digest.profiles
    assert weekly.name == "weekly" and weekly.recipients == ("a@example.org", "b@example.org")
    assert (weekly.include_tags, weekly.exclude_tags) == (("csar",), ("dsa",))
    assert (weekly.cron, weekly.timezone, weekly.formats) == ("0 8 * * 1", "UTC", ("text",))
    assert weekly.send_empty is True and weekly.subject_prefix == "[weekly]"
    assert digest.profile("morning") == morning and morning.cron == "0 7 * * *"


def test_resolve_config_dir_precedence() -> None:
    env = {"AGGREGATOR_CONFIG": "/etc/aggregator"}
    assert resolve_config_dir("/opt/cfg", env) == Path("/opt/cfg")
    assert resolve_config_dir(None, env) == Path("/etc/aggregator")
    assert resolve_config_dir(None, {}) == Path("config")


# --- the declared table of settings --------------------------------------------------------


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        flat: dict[str, object] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): value}


def test_settings_table_declares_every_field_with_the_models_default() -> None:
    model = SettingsFile.model_validate({"digest": {"profiles": {"some-profile": {}}}})
    fields = {
        name.replace("some-profile", "<name>"): value
        for name, value in _flatten(model.model_dump()).items()
    }
    declared = {spec.name: spec for spec in SETTINGS if spec.name != "config_dir"}
    assert set(fields) == set(declared)
    for name, value in fields.items():
        default = declared[name].default
        if isinstance(value, timedelta):
            default = parse_duration(default)
        elif isinstance(value, tuple):
            value = list(value)
        assert value == default, name


def test_settings_record_fields_match_the_table() -> None:
    top = {field.name for field in dataclasses.fields(Settings)}
    declared_top = {spec.name.split(".")[0] for spec in SETTINGS}
    assert top == declared_top


def test_docs_settings_reference_is_current() -> None:
    docs = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert docs == settings_reference_markdown(), (
        "docs/settings.md is stale: python -m aggregator.settings > docs/settings.md"
    )
    for spec in SETTINGS:
        assert f"`{spec.name}`" in docs
        if spec.env:
            assert f"`{spec.env}`" in docs


# --- durations and line finding ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        (15, timedelta(minutes=15)),
        (" 3h ", timedelta(hours=3)),
    ],
)
def test_parse_duration(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "1w", "1.5h", "h", True, -5, 2.5, None])
def test_parse_duration_refuses(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["99999999999d", "9" * 30 + "s", 10**30])
def test_parse_duration_beyond_a_timedelta_is_too_long(text: object) -> None:
    # A ValueError like the others (was an OverflowError, a traceback from the settings).
    with pytest.raises(DurationTooLong, match="too long"):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=10**7))
def test_format_duration_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


def test_key_lines_skip_values_spanning_lines() -> None:
    lines = KeyLines(
        """\
title = \"\"\"
fake = "inside a string"
\"\"\"
tags = [
  "x = 1",
  { inner = 2 },
]
[a."b.c"]
key = 1
[[arr]]
[[arr]]
[arr.sub]
leaf = { x = 1 }  # comment [not = a header]
"""
    )
    assert lines.exact(("fake",)) is None
    assert lines.exact(("tags",)) == 4
    assert lines.exact(("inner",)) is None
    assert lines.exact(("a", "b.c", "key")) == 9
    assert lines.exact(("arr", 1)) == 11
    assert lines.exact(("arr", 1, "sub", "leaf")) == 13
    assert lines.line_of(("arr", 1, "sub", "leaf", "x")) == 13
    assert lines.line_of(("arr", 0, "missing")) == 10
    assert lines.line_of(("nowhere",)) is None


def test_key_lines_find_each_element_of_a_value_spanning_lines() -> None:
    lines = KeyLines(
        "a = [\n"  # 1
        '  "x # ] [ , {",  # a comment: ] "\n'  # 2
        "  'y ] \\',\n"  # 3: a literal string ends at its next quote, backslash or not
        '  """two\n'  # 4
        '], lines""""", [1, [2,\n'  # 5: a multi-line string ends at the last of 5 quotes
        "  3]],\n"  # 6
        '  { k = "}", n.m = [\n'  # 7
        "    1979-05-27 07:32:00Z, {},\n"  # 8: a date and time holds a space
        "  ] },\n"  # 9
        "]\n"  # 10
        "[t]\n"  # 11
        "b = [ [ ], { } ]\n"  # 12
    )
    assert lines.exact(("a",)) == 1
    assert [lines.exact(("a", i)) for i in range(6)] == [2, 3, 4, 5, 7, None]
    assert lines.exact(("a", 3, 1, 1)) == 6
    assert lines.exact(("a", 4, "k")) == 7
    assert lines.exact(("a", 4, "n", "m")) == 7
    assert lines.exact(("a", 4, "n", "m", 1)) == 8
    assert lines.exact(("t", "b", 1)) == 12
    assert lines.line_of(("a", 4, "missing")) == 7
    assert [s.line for s in lines.statements] == [1, 11, 12]


def test_a_larger_body_limit_is_accepted_up_to_the_parsers_ceiling(tmp_path: Path) -> None:
    from aggregator.parse.guards import MAX_DOCUMENT_BYTES
    from aggregator.settings.app import MAX_BODY_BYTES

    assert MAX_BODY_BYTES == MAX_DOCUMENT_BYTES  # a limit the settings allow, parsing honours
    (tmp_path / "aggregator.toml").write_text("[fetch]\nmax_bytes = 20000000\n", encoding="utf-8")
    assert load_settings(tmp_path, {}).fetch.max_bytes == 20_000_000
    (tmp_path / "aggregator.toml").write_text(
        f"[fetch]\nmax_bytes = {MAX_BODY_BYTES + 1}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"fetch\.max_bytes"):
        load_settings(tmp_path, {})


def test_a_data_dir_that_is_a_file_is_a_config_error_naming_where_it_was_set(
    tmp_path: Path,
) -> None:
    afile = tmp_path / "data"
    afile.write_text("not a folder", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {"AGGREGATOR_DATA_DIR": str(afile / "sub")})
    assert (caught.value.file, caught.value.key) == ("environment", "AGGREGATOR_DATA_DIR")
    assert f"is inside a file, '{afile}', not a folder" in str(caught.value)
    (tmp_path / "aggregator.toml").write_text(f'data_dir = "{afile}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, {})
    assert (caught.value.line, caught.value.key) == (1, "data_dir")
    assert f"'{afile}' is a file, not a folder" in str(caught.value)
    # A folder that does not exist yet is made when the store opens: not an error.
    assert load_settings(tmp_path, {"AGGREGATOR_DATA_DIR": str(tmp_path / "new")}).data_dir == (
        tmp_path / "new"
    )


def test_numbers_from_the_environment_are_read_from_their_text(tmp_path: Path) -> None:
    # Only a file has types; an environment variable is always text.
    settings = load_settings(
        tmp_path, {"AGGREGATOR_API_PORT": "9001", "AGGREGATOR_PARSE_PROCESSES": "2"}
    )
    assert (settings.api.port, settings.fetch.parse_processes) == (9001, 2)


@pytest.mark.parametrize(
    ("data", "line", "problem"),
    [
        (b'[[source]]\nid = "a"\nname = "Caf\xe9"\n', 3, "not UTF-8 (byte 0xE9: saved as Latin-1"),
        ('[[source]]\nid = "a"\n'.encode("utf-16"), 1, "saved as UTF-16"),
        ('[[source]]\nid = "a"\n'.encode("utf-16-le"), 1, "saved as UTF-16"),
        ('[[source]]\nid = "a"\n'.encode("utf-32"), 1, "saved as UTF-32"),
    ],
    ids=["latin-1", "utf-16", "utf-16-no-bom", "utf-32"],
)
def test_a_config_file_not_in_utf8_names_the_line(
    tmp_path: Path, data: bytes, line: int, problem: str
) -> None:
    (tmp_path / "sources.toml").write_bytes(data)
    with pytest.raises(ConfigError) as caught:
        load_sources(tmp_path)
    assert caught.value.line == line
    assert caught.value.problem.startswith(problem)
    assert caught.value.expected == "a UTF-8 text file (TOML is UTF-8)"


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_bytes(b"\xef\xbb\xbf" + FEED.encode())
    assert [source.id for source in load_sources(tmp_path)] == ["ok"]


def test_a_database_password_never_reaches_a_config_error(tmp_path: Path) -> None:
    for url in (
        "postgresql+psycopg2://u:S3cret@db/a",
        "postgresql://u:S3cret@db:x/a",
        "postgresql+psycopg://u:S3cret@[::1:5432/db",  # no URL to split: masked all the same
        "postgresql+psycopg://u:se/S3cret@127.0.0.1:5432/db",  # a "/" in the password
        "postgresql+psycopg://u@127.0.0.1/db?password=S3cret&port=abc",
    ):
        (tmp_path / "aggregator.toml").write_text(f'database_url = "{url}"\n', encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_settings(tmp_path, {})
        assert "S3cret" not in str(caught.value) and "***" in str(caught.value)
