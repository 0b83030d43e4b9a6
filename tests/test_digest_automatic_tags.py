"""A profile selecting by automatic tags (a German-language digest, NGOs only) gets what the
tags say, through the command line against local feeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aggregator.cli import main
from tests.support_config import write_config
from tests.support_schedule import Post, feed_source, rss, service_settings

if TYPE_CHECKING:
    from tests.httpserver import FixtureServer

pytest_plugins = ("tests.httpserver",)


def test_a_german_language_profile(
    env: Path, http_server: FixtureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    german = Post(
        guid="np-1",
        title="Chatkontrolle: Rat einigt sich auf Verhandlungsposition",
        link="https://netzpolitik.org/2025/chatkontrolle-rat/",
        text="Die Mitgliedstaaten haben sich auf eine Position zur Chatkontrolle geeinigt. "
        "Die verpflichtende Durchsuchung verschlüsselter Nachrichten ist nicht mehr enthalten.",
        published=now - timedelta(hours=3),
    )
    english = Post(
        guid="edri-1",
        title="Chat control: Council agrees its negotiating position",
        link="https://edri.org/our-work/chat-control-council/",
        text="Member states agreed a position on the CSA Regulation. Mandatory scanning of "
        "encrypted messages is no longer in the text, but voluntary scanning stays.",
        published=now - timedelta(hours=2),
    )
    http_server.add("/np.xml", body=rss("netzpolitik.org", [german]))
    http_server.add("/edri.xml", body=rss("EDRi", [english]))
    settings = service_settings(smtp_port=None).replace(
        "[digest.profiles.daily]", '[digest.profiles.daily]\ninclude_tags = ["lang:de"]'
    )
    config = write_config(
        env / "config",
        [
            feed_source("netzpolitik", http_server.url("/np.xml"), org="press", language="de"),
            feed_source("edri", http_server.url("/edri.xml"), language="en"),
        ],
        settings=settings,
    )
    assert main(["--config", str(config), "refresh"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "digest", "--format", "json"]) == 0
    capsys.readouterr()
    (written,) = (env / "var" / "digests" / "daily").glob("*.json")
    digest = json.loads(written.read_text(encoding="utf-8"))
    titles = [e["title"] for g in digest["groups"] for e in g["entries"]]
    assert titles == [german.title]
