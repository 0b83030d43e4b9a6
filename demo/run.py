"""`make demo` (`python -m demo.run`): the whole service on this machine, with no internet.

Serves the recorded feeds and listing pages of demo/fixtures from 127.0.0.1, writes a
config folder pointing at them (the shipped tag rules and topic order, a `daily` profile
with one recipient and no SMTP server), refreshes every source, sends the digest (with no
SMTP server configured the email becomes an .eml file in the outbox), and prints the paths
of the HTML, text and .eml files. Everything lives under <out>/demo/, recreated each run.

The environment is not read (an AGGREGATOR_DATABASE_URL exported for real work must not
receive demo data): the demo passes its own, empty, environment to `App.open`.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit

from aggregator.app import App
from aggregator.cli import render_results, table_console
from aggregator.deliver.run import DigestRun
from aggregator.models import SourceResult
from aggregator.settings import load_settings
from demo.server import FixtureSite

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONFIG = ROOT / "config"
RECIPIENT = "policy-team@example.org"

COUNCIL_SELECTORS = {
    "item": "li.gsc-excerpt-item",
    "title": "h3",
    "link": "h3 a@href",
    "date": "time@datetime",
    "summary": ".gsc-excerpt-item__description",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoSource:
    id: str
    name: str
    fixture: str  # file name under demo/fixtures
    org: str
    kind: str = "feed"
    institution: str | None = None
    country: str | None = None
    language: str | None = None
    selectors: dict[str, str] | None = None


SOURCES: tuple[DemoSource, ...] = (
    DemoSource(
        id="ep-press",
        name="European Parliament: press releases",
        fixture="europarl_press.rss.xml",
        org="parliament",
        institution="European Parliament",
        language="en",
    ),
    DemoSource(
        id="council-press",
        name="Council of the EU: press releases",
        fixture="consilium_press.html",
        kind="html",
        org="institution",
        institution="Council of the European Union",
        language="en",
        selectors=COUNCIL_SELECTORS,
    ),
    DemoSource(
        id="ec-press",
        name="European Commission: press corner",
        fixture="commission_press.atom.xml",
        org="institution",
        institution="European Commission",
    ),
    DemoSource(id="edri", name="EDRi", fixture="edri.rss.xml", org="ngo", language="en"),
    DemoSource(id="ecpat", name="ECPAT International", fixture="ecpat.json", org="ngo"),
    DemoSource(
        id="iwf",
        name="Internet Watch Foundation",
        fixture="iwf.atom.xml",
        org="ngo",
        country="GB",
    ),
    DemoSource(
        id="mce",
        name="Missing Children Europe",
        fixture="missing_children_europe.rss.xml",
        org="ngo",
        country="BE",
    ),
    DemoSource(
        id="netzpolitik",
        name="netzpolitik.org",
        fixture="netzpolitik.rss.xml",
        org="press",
        country="DE",
    ),
    DemoSource(id="euractiv", name="Euractiv", fixture="euractiv.rss.xml", org="press"),
    DemoSource(
        id="euractiv-fr",
        name="Euractiv France",
        fixture="euractiv_fr.rss.xml",
        org="press",
        country="FR",
        language="fr",
    ),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoOutput:
    results: tuple[SourceResult, ...]
    run: DigestRun
    html: Path
    text: Path
    eml: Path


def sources_toml(site: FixtureSite) -> str:
    tables: list[dict[str, Any]] = []
    for source in SOURCES:
        table: dict[str, Any] = {
            "id": source.id,
            "name": source.name,
            "url": site.url(source.fixture),
            "kind": source.kind,
            "org": source.org,
        }
        for key in ("institution", "country", "language", "selectors"):
            value = getattr(source, key)
            if value is not None:
                table[key] = value
        tables.append(table)
    return tomlkit.dumps({"source": tables})


def settings_toml(data_dir: Path) -> str:
    """Demo settings: data under `data_dir`, the shipped topic order, no SMTP server."""
    shipped = load_settings(SHIPPED_CONFIG, {}) if SHIPPED_CONFIG.is_dir() else None
    topic_order = list(shipped.digest.topic_order) if shipped else []
    return tomlkit.dumps(
        {
            "data_dir": str(data_dir),
            "fetch": {"retries": 0, "read_timeout": 5.0, "total_timeout": 10.0},
            "digest": {
                "topic_order": topic_order,
                "profiles": {
                    "daily": {
                        "recipients": [RECIPIENT],
                        "subject_prefix": "[aggregator demo]",
                        "formats": ["html", "text", "markdown", "json"],
                    }
                },
            },
        }
    )


def write_demo_config(folder: Path, site: FixtureSite, data_dir: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "aggregator.toml").write_text(settings_toml(data_dir), encoding="utf-8")
    (folder / "sources.toml").write_text(sources_toml(site), encoding="utf-8")
    tags = SHIPPED_CONFIG / "tags.toml"
    if tags.is_file():  # the project's real tag rules: the demo groups as production does
        shutil.copyfile(tags, folder / "tags.toml")
    return folder


def run_demo(out: Path, *, show_table: bool = True) -> DemoOutput:
    """Recreate <out>/demo, serve the fixtures, refresh, send the digest; return the paths."""
    base = (out / "demo").resolve()
    if base.exists():
        shutil.rmtree(base)  # only the demo's own folder: each run starts empty
    data_dir = base / "data"
    with FixtureSite() as site:
        config = write_demo_config(base / "config", site, data_dir)
        with App.open(config, {}) as app:
            results = asyncio.run(app.refresh(app.select_sources()))
            if show_table:
                render_results(results, table_console())
            run = app.run_digest("daily", send=True)
    by_suffix = {path.suffix: path for path in run.files}
    emails = sorted((data_dir / "outbox").glob("*.eml"))
    if ".html" not in by_suffix or ".txt" not in by_suffix or len(emails) != 1:
        raise RuntimeError(f"the demo digest is incomplete: files {run.files}, emails {emails}")
    return DemoOutput(
        results=tuple(results),
        run=run,
        html=by_suffix[".html"],
        text=by_suffix[".txt"],
        eml=emails[0],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.run", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "var", help="default: var/")
    args = parser.parse_args(argv)
    output = run_demo(args.out)
    digest = output.run.digest
    print(
        f"digest: {digest.entry_count} entries from {digest.new_item_count} new items of "
        f"{digest.source_count} sources"
    )
    print(f"html:  {output.html}")
    print(f"text:  {output.text}")
    print(f"email: {output.eml}")
    failed = [r.source_id for r in output.results if not r.ok]
    if failed:
        print(f"failed sources: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
