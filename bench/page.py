"""`make check-page`: the web page at / in headless Chromium.

Seeds a small database (synthetic items, as bench.api does), records a digest through
`App.run_digest`, starts `aggregator serve`, then has Chromium load `/`: its DOM must hold
the digest's title and its first entry, and a screenshot goes to var/page.png. Exits 1
with the reason when something is missing.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from aggregator.app import App
from bench.api import ROOT, seed, start_server

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
SCREENSHOT = ROOT / "var" / "page.png"


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("no chromium on PATH (make check-page installs it with apt)")


def run_chromium(url: str, folder: Path, *extra: str) -> str:
    profile = tempfile.mkdtemp(dir=folder, prefix="chromium-")  # a fresh profile each run
    done = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        database = f"sqlite:///{folder / 'page.sqlite'}"
        seed(database, 300)
        process, url = start_server(database, folder)
        try:
            env = {"AGGREGATOR_DATABASE_URL": database, "AGGREGATOR_DATA_DIR": str(folder)}
            with App.open(folder / "config", env) as app:
                run = app.run_digest("daily", send=True, write_files=False)
            digest = httpx.get(f"{url}/api/v1/digests/latest").json()
            first = digest["body"]["groups"][0]["entries"][0]["title"]
            dom = run_chromium(f"{url}/", folder, "--dump-dom")
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            run_chromium(f"{url}/", folder, f"--screenshot={SCREENSHOT}", "--window-size=1024,1400")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    problems = []
    if f"{run.digest.profile} digest" not in dom:
        problems.append("the digest's title is not on the page")
    if first not in dom:
        problems.append(f"the first entry {first!r} is not on the page")
    if not SCREENSHOT.is_file() or SCREENSHOT.stat().st_size < 10_000:
        problems.append(f"no real screenshot at {SCREENSHOT}")
    report = {"entries": run.digest.entry_count, "dom_chars": len(dom), "problems": problems}
    print(json.dumps(report))
    if problems:
        return 1
    print(f"page ok: {run.digest.entry_count} entries; screenshot {SCREENSHOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
