"""A hostile world, feed side: poisoned items reach the real CLI over real sockets, and every
good item still alerts, from the poisoned source and from the clean one.

Each case is one feed on a local ``FeedServer``, polled by ``talks-bot poll-once --output jsonl``
beside a clean source, on SQLite and on PostgreSQL. The headlines are our own; the poison is what
the wild sends: lone UTF-16 surrogates and NUL in JSON Feed strings, ``&#0;`` and ``&#xD800;``
character references in RSS, a date in the year 9999, a Cache-Control that overflows a
``timedelta``, every item sharing one guid, bidi overrides and zero-width characters in a
headline, and a headline of several megabytes.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.bot_process import ROOT, poll_once, rss
from tests.ingest.servers import FeedServer

NOW = datetime.now(UTC).replace(microsecond=0)
CLEAN = [
    ("c1", "Hamas delegation lands in Cairo for a new round of truce talks", "Mediators met.", NOW),
    ("c2", "Rafah crossing shut again as strikes hit the border town", "The gate closed.", NOW),
]


def _json_feed(items: list[str]) -> bytes:
    """A JSON Feed document from raw item objects (JSON text, so escapes stay as the wire has
    them: ``\\ud800`` is a lone surrogate once decoded)."""
    return (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "Gulf Desk", '
        '"home_page_url": "https://gulfdesk.example/", "items": [' + ", ".join(items) + "]}"
    ).encode()


def _item(guid: str, title: str, when: datetime = NOW) -> str:
    return (
        f'{{"id": "{guid}", "url": "https://gulfdesk.example/news/{guid.strip(chr(92))[:8]}", '
        f'"title": "{title}", "content_text": "Officials spoke on Sunday.", '
        f'"date_published": "{when.isoformat()}"}}'
    )


def _rss_raw(items: list[tuple[str, str, str]]) -> bytes:
    """RSS with raw (unescaped) guid, title and pubDate strings: the poison goes in verbatim."""
    body = "".join(
        f'<item><guid isPermaLink="false">{g}</guid><title>{t}</title>'
        f"<link>https://gulfdesk.example/news/{i}</link><pubDate>{d}</pubDate></item>"
        for i, (g, t, d) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Gulf Desk</title><link>https://gulfdesk.example/</link>{body}</channel></rss>"
    ).encode()


RFC822_NOW = NOW.strftime("%a, %d %b %Y %H:%M:%S +0000")

CASES: dict[str, tuple[bytes, dict[str, str], list[str]]] = {
    # name: (document, response headers, headlines that must alert from it)
    "surrogate in a title": (
        _json_feed(
            [
                _item("g1", "Qatar hands Hamas a new truce proposal \\ud800 in Doha"),
                _item("g2", "Israeli cabinet meets on the hostage deal tonight"),
            ]
        ),
        {"Content-Type": "application/feed+json"},
        ["Qatar hands Hamas a new truce proposal", "Israeli cabinet meets on the hostage deal"],
    ),
    "surrogate in an id and url": (
        _json_feed(
            [
                '{"id": "g\\udfff1", "url": "https://gulfdesk.example/\\ud83d", '
                '"title": "Egypt opens the Rafah crossing for the wounded", '
                f'"date_published": "{NOW.isoformat()}"}}',
                _item("g2", "Israeli cabinet meets on the hostage deal tonight"),
            ]
        ),
        {"Content-Type": "application/feed+json"},
        ["Egypt opens the Rafah crossing", "Israeli cabinet meets on the hostage deal"],
    ),
    "NUL in a JSON guid": (
        _json_feed(
            [
                _item("g\\u00001", "Hamas frees four more hostages at the Rafah crossing"),
                _item("g2", "Israeli cabinet meets on the hostage deal tonight"),
            ]
        ),
        {"Content-Type": "application/feed+json"},
        ["Hamas frees four more hostages", "Israeli cabinet meets on the hostage deal"],
    ),
    "NUL reference in an RSS guid": (
        _rss_raw(
            [
                ("g&#0;1", "Hamas frees four more hostages at the Rafah crossing", RFC822_NOW),
                ("g2", "Israeli cabinet meets on the hostage deal tonight", RFC822_NOW),
            ]
        ),
        {},
        ["Hamas frees four more hostages", "Israeli cabinet meets on the hostage deal"],
    ),
    "surrogate reference in an RSS title": (
        _rss_raw(
            [
                ("g1", "Qatar hands Hamas a new truce proposal &#xD800;", RFC822_NOW),
                ("g2", "Israeli cabinet meets on the hostage deal tonight", RFC822_NOW),
            ]
        ),
        {},
        ["Qatar hands Hamas a new truce proposal", "Israeli cabinet meets on the hostage deal"],
    ),
    "a date in the year 9999": (
        _rss_raw(
            [
                ("g1", "Qatar hands Hamas a new truce proposal", "Fri, 31 Dec 9999 23:59:59 -1400"),
                ("g2", "Israeli cabinet meets on the hostage deal tonight", RFC822_NOW),
            ]
        ),
        {},
        # An unreadable date is no date: on a source's first poll such an item is recorded as
        # seen, not alerted (its age is unknown). It must not cost its neighbour anything.
        ["Israeli cabinet meets on the hostage deal"],
    ),
    "a Cache-Control beyond any calendar": (
        rss("Gulf Desk", [("g1", "Qatar hands Hamas a new truce proposal", "Talks.", NOW)]),
        {"Cache-Control": "max-age=99999999999999"},
        ["Qatar hands Hamas a new truce proposal"],
    ),
    "bidi override and zero-width characters in a headline": (
        _json_feed(
            [
                _item("g1", "Hamas \u202erejects\u202c the Qatari\u200b proposal"),
                _item("g2", "Israeli cabinet meets on the hostage deal tonight"),
            ]
        ),
        {"Content-Type": "application/feed+json"},
        ["Hamas rejects the Qatari proposal", "Israeli cabinet meets on the hostage deal"],
    ),
    "a headline of three megabytes": (
        _json_feed(
            [
                _item("g1", "Qatar hands Hamas a new truce proposal " + "and more " * 330_000),
                _item("g2", "Israeli cabinet meets on the hostage deal tonight"),
            ]
        ),
        {"Content-Type": "application/feed+json"},
        ["Qatar hands Hamas a new truce proposal", "Israeli cabinet meets on the hostage deal"],
    ),
    "every item sharing one guid": (
        _rss_raw(
            [
                ("1", "Qatar hands Hamas a new truce proposal", RFC822_NOW),
                ("1", "Hamas frees four more hostages at the Rafah crossing", RFC822_NOW),
                ("1", "Israeli cabinet meets on the hostage deal tonight", RFC822_NOW),
            ]
        ),
        {},
        [
            "Qatar hands Hamas a new truce proposal",
            "Hamas frees four more hostages",
            "Israeli cabinet meets on the hostage deal",
        ],
    ),
}


@pytest.fixture(scope="module")
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def _serve_and_poll(
    folder: Path, server: FeedServer, name: str, database_url: str
) -> subprocess.CompletedProcess[str]:
    body, headers, _ = CASES[name]
    slug = "".join(c if c.isalnum() else "-" for c in name)
    extra = {k: v for k, v in headers.items() if k != "Content-Type"}
    server.serve(
        f"/{slug}", body, headers.get("Content-Type", "application/rss+xml"), headers=extra
    )
    server.serve("/clean", rss("Nile Courier", CLEAN), "application/rss+xml")
    config = folder / "talks.toml"
    config.write_text(
        f'topics_from = "{ROOT / "config" / "default.toml"}"\n'
        f"[bot]\ndatabase_url = {json.dumps(database_url)}\n"
        '[[routes]]\nplatform = "console"\nchannel = "console"\ntopics = ["*"]\npush = "all"\n'
        f'[[sources]]\nname = "gulf"\nurl = "{server.url("/" + slug)}"\noutlet = "Gulf Desk"\n'
        f'[[sources]]\nname = "nile"\nurl = "{server.url("/clean")}"\noutlet = "Nile Courier"\n',
        encoding="utf-8",
    )
    return poll_once(folder, config)


def _alerted(done: subprocess.CompletedProcess[str]) -> list[str]:
    titles = []
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") in {"alert", "queued"}:
                titles.append(str(event["title"]))
    return titles


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_poisoned_item_costs_no_other_item_or_source(
    name: str, feeds: FeedServer, tmp_path: Path, database_url: str
) -> None:
    done = _serve_and_poll(tmp_path, feeds, name, database_url)
    alerted = _alerted(done)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    for want in [*CASES[name][2], CLEAN[0][1], CLEAN[1][1]]:
        assert any(want in t for t in alerted), f"no alert for {want!r}:\n{out[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "source gulf failed" not in done.stderr, done.stderr[-3000:]
    for title in alerted:
        assert len(title) <= 2_000, "a headline is cut to a readable size"
        assert not any(c in title for c in "\u202e\u202c\u200b\x00"), repr(title[:80])
