"""End to end over real sockets: a local feed server, the real CLI, a real SQLite file.

The first ``poll-once`` alerts; the second sends conditional requests and alerts nothing new; a
failing source is recorded and reported in one line while the others go on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from tests.ingest.servers import FeedServer

ROOT = Path(__file__).resolve().parents[1]
TOPICS = f'topics_from = "{ROOT / "config" / "default.toml"}"\n'
"""The desk's default topics, for configs written by these tests."""


def rss(outlet: str, items: list[tuple[str, str, str, datetime]]) -> bytes:
    entries = "".join(
        f"""
    <item>
      <guid isPermaLink="false">{guid}</guid>
      <title>{title}</title>
      <link>https://{outlet.lower().replace(" ", "")}.example/{guid}?utm_source=rss</link>
      <description><![CDATA[<p>{lead}</p><p>Share.</p>]]></description>
      <pubDate>{format_datetime(when)}</pubDate>
    </item>"""
        for guid, title, lead, when in items
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>{outlet}</title><link>https://example.org/</link>
<description>test feed</description>{entries}
</channel></rss>""".encode()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    now = datetime.now(UTC).replace(microsecond=0)
    with FeedServer() as srv:
        srv.serve(
            "/levant.xml",
            rss(
                "Levant Wire",
                [
                    (
                        "lw-1",
                        "Hamas delegation arrives in Cairo for cease-fire talks",
                        "A Hamas delegation arrived in Cairo on Saturday for talks with "
                        "Egyptian mediators on a truce and a hostage deal.",
                        now - timedelta(hours=3),
                    ),
                    (
                        "lw-2",
                        "Rafael Nadal pulls out of Madrid Open",
                        "The Spanish tennis star withdrew with a hip injury.",
                        now - timedelta(hours=2),
                    ),
                ],
            ),
        )
        srv.serve(
            "/nile.xml",
            rss(
                "Nile Courier",
                [
                    (
                        "nc-9",
                        "Israeli cabinet weighs Rafah offensive as hostage families protest",
                        "Ministers met on Sunday to discuss an operation in Rafah while "
                        "families of hostages held in Gaza protested in Tel Aviv.",
                        now - timedelta(hours=1),
                    ),
                    (
                        "nc-3",
                        "Old news: truce talks in Cairo last week",
                        "Mediators met in Cairo last week for cease-fire talks with Hamas.",
                        now - timedelta(days=4),
                    ),
                ],
            ),
        )
        srv.fail("/down.xml", 503, headers={"Retry-After": "120"})
        srv.serve(
            "/page.html",
            b"<!doctype html><html><body>Welcome</body></html>",
            "text/html; charset=utf-8",
        )
        srv.serve("/empty.xml", b"")
        yield srv


def write_config(tmp_path: Path, server: FeedServer) -> Path:
    sources = "".join(
        f'[[sources]]\nname = "{name}"\nurl = "{server.url(path)}"\n\n'
        for name, path in [
            ("levant", "/levant.xml"),
            ("nile", "/nile.xml"),
            ("down", "/down.xml"),
            ("page", "/page.html"),
            ("empty", "/empty.xml"),
        ]
    )
    path = tmp_path / "config.toml"
    path.write_text(
        TOPICS + sources + '[[routes]]\nplatform = "console"\nchannel = "desk"\n',
        encoding="utf-8",
    )
    return path


def talks_bot(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TALKS_BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def alerts(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_poll_once_alerts_then_polls_conditionally_and_records_failures(
    tmp_path: Path, server: FeedServer
) -> None:
    config = str(write_config(tmp_path, server))
    first = talks_bot(tmp_path, "poll-once", "--config", config, "--output", "jsonl")
    assert first.returncode == 1, "failing sources: cron is told"
    events = alerts(first.stdout)
    titles = {e["title"] for e in events}
    assert {e["event"] for e in events} == {"alert"}
    assert "Hamas delegation arrives in Cairo for cease-fire talks" in titles
    assert "Israeli cabinet weighs Rafah offensive as hostage families protest" in titles
    assert not any("Nadal" in str(t) for t in titles), "unrelated story alerted"
    assert not any("Old news" in str(t) for t in titles), "items older than max_item_age alert"
    cairo = next(e for e in events if "Cairo" in str(e["title"]))
    assert cairo["url"] == "https://levantwire.example/lw-1", "tracking parameters dropped"
    assert "cairo-delegation" in cairo["topics"]
    assert cairo["source"] == "levant"
    assert "Share." not in str(cairo["summary"])
    assert cairo["matched_terms"]

    errors = [line for line in first.stderr.splitlines() if line.startswith("source ")]
    assert len(errors) == 3, first.stderr
    assert any(line.startswith("source down:") and "503" in line for line in errors)
    assert any(line.startswith("source page:") and "HTML" in line for line in errors)
    assert any(line.startswith("source empty:") and "empty" in line for line in errors)

    second = talks_bot(
        tmp_path, "poll-once", "--config", config, "--output", "jsonl", "--ok-on-failing-sources"
    )
    assert second.returncode == 0, second.stderr
    assert "2 healthy, 0 failing, 3 backing off" in second.stderr
    assert alerts(second.stdout) == [], "the second poll must not alert again"
    for path in ("/levant.xml", "/nile.xml"):
        assert server.count(path) == 2
        assert server.conditional_count(path) == 1, "second request should be conditional"
    assert server.count("/down.xml") == 1, "a failing source backs off instead of hammering"

    status = talks_bot(tmp_path, "status", "--config", config)
    assert status.returncode == 0, status.stderr
    assert "Sources: 2 of 5 healthy" in status.stdout
    assert "down failing" in status.stdout
    assert "503" in status.stdout


def test_demo_prints_sourced_scored_alerts_quickly() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("━━ ALERT") >= 5
    assert "score" in out
    assert "why:" in out
    assert "https://" in out
    assert "Nadal" not in out, "the demo's unrelated stories must not alert"
    assert "Talks status" in out


def test_check_config_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[bot]\nmax_item_age = "later"\n[[sources]]\nname = "x"\nurl = "gopher://x"\n')
    result = talks_bot(tmp_path, "check-config", "--config", str(bad))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("config error:")]
    assert len(lines) == 2
    assert any("bot.max_item_age" in line for line in lines)
    assert any("sources[0].url" in line for line in lines)
    good = talks_bot(tmp_path, "check-config", "--config", str(ROOT / "config" / "default.toml"))
    assert good.returncode == 0
    assert "ok" in good.stdout


def test_jsonl_shows_update_in_place_and_digest_fold(tmp_path: Path) -> None:
    """Flood control folds the rest into a digest; a later outlet updates the alert in place."""
    now = datetime.now(UTC).replace(microsecond=0)
    places = ["Rafah", "Khan Younis", "Deir al-Balah", "Jabalia", "Nuseirat", "Beit Lahia"]
    wire = [
        (
            f"w-{i}",
            f"Hostage families in {place} urge Hamas and Israel to seal release deal",
            f"Relatives of hostages held in Gaza gathered in {place} on day {i} to demand a "
            f"hostage release deal from Hamas and Israel.",
            now - timedelta(minutes=50 - i),
        )
        for i, place in enumerate(places)
    ]
    with FeedServer() as srv:
        srv.serve("/wire.xml", rss("Levant Wire", wire))
        config = tmp_path / "config.toml"
        config.write_text(
            TOPICS + '[flood]\nmax_alerts = 3\nper = "1h"\n\n'
            f'[[sources]]\nname = "wire"\nurl = "{srv.url("/wire.xml")}"\n\n'
            f'[[sources]]\nname = "nile"\nurl = "{srv.url("/nile.xml")}"\n\n'
            '[[routes]]\nplatform = "console"\nchannel = "desk"\n',
            encoding="utf-8",
        )
        srv.serve("/nile.xml", rss("Nile Courier", []))
        first = talks_bot(tmp_path, "poll-once", "--config", str(config), "--output", "jsonl")
        assert first.returncode == 0, first.stderr
        events = alerts(first.stdout)
        assert len(events) == len(places), "every development is shown, none dropped"
        folded = [e for e in events if e["digest"]]
        assert len(folded) == len(places) - 3
        assert len({e["digest"] for e in folded}) == 1, "the rest go into one digest"

        # Another outlet reports the first (unfolded) development: the alert is edited in place.
        _guid, title, lead, when = wire[0]
        srv.serve(
            "/nile.xml", rss("Nile Courier", [("n-1", title, lead, when + timedelta(minutes=5))])
        )
        second = talks_bot(tmp_path, "poll-once", "--config", str(config), "--output", "jsonl")
        assert second.returncode == 0, second.stderr
        later = alerts(second.stdout)
        assert [e["event"] for e in later] == ["update"]
        assert later[0]["outlets"] == ["wire", "nile"]
        assert later[0]["story_id"] == events[0]["story_id"]


def test_full_text_fills_a_headline_only_feed_from_the_article_page(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    article = (
        b"<html><head><title>Talks</title></head><body><nav>Home | World</nav><article>"
        b"<h1>Mediators present new truce proposal to Hamas</h1>"
        b"<p>Egyptian and Qatari mediators handed Hamas a revised proposal for a cease-fire in "
        b"Gaza on Monday, officials briefed on the talks said.</p>"
        b"<p>The plan links a six-week pause in the fighting to the release of hostages in "
        b"stages, and Hamas said it would study it with other factions.</p>"
        b"<p>Israel has not commented on the proposal, which was drafted after the last round "
        b"of talks in Cairo ended without agreement.</p></article>"
        b"<footer>Copyright</footer></body></html>"
    )
    with FeedServer() as srv:
        srv.serve("/a/truce.html", article, "text/html; charset=utf-8")
        link = srv.url("/a/truce.html")
        feed = rss(
            "Stub Wire",
            [
                (
                    "s-1",
                    "Mediators present new truce proposal to Hamas",
                    "",
                    now - timedelta(minutes=5),
                )
            ],
        )
        feed = feed.replace(b"https://stubwire.example/s-1?utm_source=rss", link.encode())
        srv.serve("/stub.xml", feed)
        config = tmp_path / "config.toml"
        config.write_text(
            TOPICS + '[bot]\nfull_text = true\nfull_text_allow = ["127.0.0.1"]\n\n'
            f'[[sources]]\nname = "stub"\nurl = "{srv.url("/stub.xml")}"\n',
            encoding="utf-8",
        )
        result = talks_bot(tmp_path, "poll-once", "--config", str(config), "--output", "jsonl")
    assert result.returncode == 0, result.stderr
    [event] = alerts(result.stdout)
    assert "revised proposal" in str(event["summary"])
    assert "Home | World" not in str(event["summary"])
