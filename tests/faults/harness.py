"""What the fault tests share: a newsroom's worth of developments, a Slack that misbehaves on cue,
and the ledger that says, channel by channel, what the desk actually saw.

The bot runs as a real child process (``python -m bot run``) against feeds on a local
``FeedServer`` and the fake Slack in the test process. Developments are published over time; some
are reported again by a second outlet (one alert, edited in place). The verdict is read from the
fake's message history, i.e. what an editor scrolling the channel would see: every development
exactly once in every routed channel.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import cycle
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.bot_process import BotProcess, bot_env, free_port, rss, write_config
from tests.chat.slack.fake_slack import Call, FakeSlack
from tests.ingest.servers import FeedServer

BOT_TOKEN = "xoxb-fault-desk-0001"
SIGNING_SECRET = "5f0c2c7d9e1a4b3c8d7e6f5a4b3c2d1e"
CHANNELS = ("C0FAULTA", "C0FAULTB", "C0FAULTC")
OUTLETS = {"levant": "Levant Wire", "nile": "Nile Courier", "harbour": "Harbour Ledger"}


@dataclass(frozen=True)
class Development:
    """One thing that happened, first reported by ``outlet``; maybe again by ``echo_outlet``."""

    key: str
    headline: str
    lead: str
    outlet: str
    echo_outlet: str | None = None
    echo_headline: str = ""

    def links(self) -> tuple[str, ...]:
        """The article links that may head its alert (whichever outlet the bot read first)."""
        found = [_link(self.outlet, self.key)]
        if self.echo_outlet:
            found.append(_link(self.echo_outlet, self.key + "e"))
        return tuple(found)


def _link(source: str, guid: str) -> str:
    host = OUTLETS[source].lower().replace(" ", "")
    return f"https://{host}.example/news/{guid}"


# Written for these tests: fictional reporting in the style of a live desk's wires.
DEVELOPMENTS: tuple[Development, ...] = (
    Development(
        "d01",
        "Israeli tanks push deeper into western Rafah overnight",
        "Residents of Tal al-Sultan described heavy shelling as armoured units moved toward "
        "the coast.",
        "levant",
        "nile",
        "Israeli tanks push deeper into western Rafah overnight, residents say",
    ),
    Development(
        "d02",
        "Egypt says Rafah crossing stays shut until Palestinian side is handed back",
        "Cairo wants the Gaza side of the Rafah crossing run by Palestinians before aid resumes.",
        "nile",
    ),
    Development(
        "d03",
        "Qatari mediators hand Hamas a revised cease-fire proposal in Doha",
        "The new text shortens the first phase of the truce and widens the prisoner list.",
        "harbour",
        "levant",
        "Qatari mediators hand Hamas revised cease-fire proposal in Doha",
    ),
    Development(
        "d04",
        "Hostage families block Tel Aviv highway demanding a deal now",
        "Relatives of hostages held in Gaza lit flares on the Ayalon road on Saturday night.",
        "levant",
    ),
    Development(
        "d05",
        "CIA director William Burns lands in Cairo for truce negotiations",
        "Burns is expected to meet Egyptian and Qatari mediators on a Gaza truce.",
        "nile",
    ),
    Development(
        "d06",
        "Hamas delegation leaves Cairo without reply on hostage swap framework",
        "The delegation will consult the movement's leadership and return, Egyptian officials "
        "said.",
        "harbour",
    ),
    Development(
        "d07",
        "Red Cross confirms transfer of three released hostages near Kerem Shalom",
        "The three hostages were handed to Israeli forces after a brief delay at the crossing.",
        "levant",
        "harbour",
        "Red Cross confirms transfer of three released hostages near Kerem Shalom crossing",
    ),
    Development(
        "d08",
        "Netanyahu cabinet split over phased cease-fire deal, officials say",
        "Two ministers threatened to quit if Israel agrees to end the war in Gaza.",
        "nile",
    ),
    Development(
        "d09",
        "Aid trucks stranded at Rafah as fuel shortage shuts Gaza bakeries",
        "The World Food Programme said its stocks in southern Gaza would last two more days.",
        "harbour",
    ),
    Development(
        "d10",
        "Israeli negotiating team heads to Doha for hostage deal talks",
        "The team includes the Mossad chief and a senior army officer, Israeli media reported.",
        "levant",
    ),
    Development(
        "d11",
        "Egyptian intelligence chief Abbas Kamel meets Hamas leaders in Cairo",
        "Kamel pressed the Hamas delegation to accept a six-week truce, a source said.",
        "nile",
    ),
    Development(
        "d12",
        "Prisoner exchange list dispute stalls second phase of Gaza truce",
        "Hamas and Israel disagree over the release of Palestinian prisoners serving life terms.",
        "harbour",
    ),
    Development(
        "d13",
        "Displaced families flee Shaboura camp in Rafah after evacuation orders",
        "Leaflets dropped on the camp told residents to move to the coastal zone.",
        "levant",
    ),
    Development(
        "d14",
        "Philadelphi corridor control emerges as sticking point in cease-fire talks",
        "Israel wants troops to stay along the Gaza-Egypt border during the first phase.",
        "nile",
    ),
    Development(
        "d15",
        "Hostages and Missing Families Forum rejects partial release plan",
        "The forum said every hostage must come home in a single hostage deal.",
        "harbour",
    ),
    Development(
        "d16",
        "Khalil al-Hayya says Hamas will study mediators' latest truce text",
        "The Hamas official spoke to Al-Qahera News after talks with Egyptian mediators.",
        "levant",
    ),
    Development(
        "d17",
        "Israel to send Mossad chief to Cairo talks on hostage release",
        "David Barnea will join the Israeli delegation meeting Egyptian mediators on Tuesday.",
        "nile",
    ),
    Development(
        "d18",
        "Wounded evacuees cross Gaza-Egypt border at Rafah for treatment",
        "Forty patients and their companions left Gaza for hospitals in El Arish.",
        "harbour",
    ),
    Development(
        "d19",
        "Brett McGurk shuttles between Doha and Cairo to rescue Gaza ceasefire bid",
        "The White House envoy met the Qatari prime minister before flying to Egypt.",
        "levant",
    ),
    Development(
        "d20",
        "Freed hostage describes months held in Gaza tunnels",
        "The 34-year-old said captives were moved every few weeks and rarely saw daylight.",
        "nile",
    ),
    Development(
        "d21",
        "Qatar warns it may step back from mediation over cease-fire deadlock",
        "Doha said Hamas and Israel were using the talks for political ends.",
        "harbour",
    ),
    Development(
        "d22",
        "Islamic Jihad releases video of two captives as families demand proof of life",
        "The hostage families forum urged the government to act on a hostage deal.",
        "levant",
    ),
    Development(
        "d23",
        "Palestinian prisoners freed from Ofer as Gaza truce enters fourth day",
        "Buses carried the released prisoners to Ramallah under the prisoner exchange terms.",
        "nile",
    ),
    Development(
        "d24",
        "Sisi hosts Qatari prime minister in Cairo for emergency Gaza talks",
        "The two leaders discussed reviving cease-fire talks and reopening the Rafah crossing.",
        "harbour",
    ),
)


# the newsroom's feeds --------------------------------------------------------------------------
class Newsroom:
    """Three outlets' RSS feeds; developments (and their echoes) are published over time."""

    def __init__(self, server: FeedServer, developments: Sequence[Development]) -> None:
        self.server = server
        self.developments = tuple(developments)
        base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=90)
        # Each development has its own fresh publication time, a minute apart.
        self._when = {d.key: base + timedelta(minutes=i) for i, d in enumerate(self.developments)}
        self.items: dict[str, list[tuple[str, str, str, datetime]]] = {k: [] for k in OUTLETS}
        self.published: list[Development] = []
        self._echoes_due: list[Development] = []
        self._refresh()

    def publish(self, count: int = 1) -> list[Development]:
        """The next ``count`` developments appear in their outlet's feed; echoes published
        earlier follow one step later in the other outlet's feed."""
        for echo in self._echoes_due:
            assert echo.echo_outlet is not None
            when = self._when[echo.key] + timedelta(minutes=20)
            self.items[echo.echo_outlet].append(
                (echo.key + "e", echo.echo_headline, echo.lead, when)
            )
        self._echoes_due = []
        fresh = list(self.developments[len(self.published) : len(self.published) + count])
        for dev in fresh:
            self.items[dev.outlet].append((dev.key, dev.headline, dev.lead, self._when[dev.key]))
            if dev.echo_outlet:
                self._echoes_due.append(dev)
        self.published.extend(fresh)
        self._refresh()
        return fresh

    def publish_all(self) -> None:
        while len(self.published) < len(self.developments) or self._echoes_due:
            self.publish(len(self.developments))

    @property
    def remaining(self) -> int:
        return len(self.developments) - len(self.published)

    def _refresh(self) -> None:
        for source, outlet in OUTLETS.items():
            # Newest first, as feeds are written.
            items = sorted(self.items[source], key=lambda item: item[3], reverse=True)
            self.server.serve(f"/{source}.xml", rss(outlet, items))


# a Slack that misbehaves -----------------------------------------------------------------------
class FaultySlack(FakeSlack):
    """The fake Slack, plus two kinds of trouble.

    ``outage(seconds)``: every Web API call answers 429 (Retry-After) or 5xx for a while.
    ``on_call``: a hook run after a call was handled but before its answer leaves, e.g. to
    SIGKILL the bot at exactly the moment Slack has posted a message the bot never hears about.
    """

    def __init__(self) -> None:
        super().__init__()
        self.on_call: Callable[[str], None] | None = None
        self.outage_until = 0.0
        self._troubles = cycle(
            [
                (429, {"ok": False, "error": "ratelimited"}, "1"),
                (500, "upstream trouble", "1"),
                (503, "service unavailable", "2"),
            ]
        )
        self.refused = 0

    def outage(self, seconds: float) -> None:
        self.outage_until = time.monotonic() + seconds

    async def start(self) -> None:
        await super().start()

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if time.monotonic() < self.outage_until:
            method = request.match_info["method"]
            self.calls.append(Call(method, {}, dict(request.headers)))
            self.refused += 1
            status, body, retry_after = next(self._troubles)
            headers = {"Retry-After": retry_after}
            if isinstance(body, str):
                return web.Response(status=status, text=body, headers=headers)
            return web.json_response(body, status=status, headers=headers)
        response = await super()._api(request)
        if self.on_call is not None:
            self.on_call(request.match_info["method"])
        return response


# the ledger ------------------------------------------------------------------------------------
@dataclass
class Ledger:
    """Per channel and development: how many messages an editor would see about it."""

    counts: dict[tuple[str, str], int]
    strays: list[str] = field(default_factory=list)
    """Messages that name no expected development, or two at once (a wrong merge)."""
    rebroadcasts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """Per channel, development and escalation (its mark): alerts shown to the channel again
    from their thread (corroborated, turned urgent). More than one is a repeat."""

    @property
    def expected(self) -> int:
        return len(self.counts)

    @property
    def delivered(self) -> int:
        return sum(1 for c in self.counts.values() if c >= 1)

    @property
    def duplicated(self) -> int:
        again = sum(c - 1 for c in self.rebroadcasts.values() if c > 1)
        return sum(c - 1 for c in self.counts.values() if c > 1) + again

    @property
    def lost(self) -> int:
        return sum(1 for c in self.counts.values() if c == 0)

    def missing(self) -> list[tuple[str, str]]:
        return sorted(k for k, c in self.counts.items() if c == 0)

    def doubled(self) -> list[tuple[str, str]]:
        again = [(ch, dev) for (ch, dev, _mark), c in self.rebroadcasts.items() if c > 1]
        return sorted([*(k for k, c in self.counts.items() if c > 1), *again])

    def figures(self) -> dict[str, int]:
        return {
            "alerts_expected": self.expected,
            "delivered": self.delivered,
            "duplicated": self.duplicated,
            "lost": self.lost,
        }


def ledger(slack: FakeSlack, developments: Sequence[Development]) -> Ledger:
    counts = {(ch, d.key): 0 for ch in CHANNELS for d in developments}
    rebroadcasts: dict[tuple[str, str, str], int] = {}
    strays = []
    for channel in CHANNELS:
        for message in slack.history.get(channel, []):
            body = str(message.get("text", "")) + str(message.get("blocks", ""))
            named = [d.key for d in developments if any(link in body for link in d.links())]
            if len(named) != 1:
                strays.append(f"{channel}: {body[:160]}")
                continue
            if message.get("subtype") == "thread_broadcast":
                mark = str(message.get("metadata", {}).get("event_payload", {}).get("mark"))
                key = (channel, named[0], mark)
                rebroadcasts[key] = rebroadcasts.get(key, 0) + 1
                continue
            counts[(channel, named[0])] += 1
    return Ledger(counts, strays, rebroadcasts)


# the bot ---------------------------------------------------------------------------------------
def desk_config(folder: Path, feeds: FeedServer, slack: FakeSlack, *, port: int) -> Path:
    """Three outlets polled every second; every topic routed to three Slack channels; flood
    control wide open so every development is its own alert."""
    routes = "".join(
        f'[[routes]]\nplatform = "slack"\nchannel = "{channel}"\ntopics = ["*"]\n\n'
        for channel in CHANNELS
    )
    extra = (
        f'[flood]\nmax_alerts = 100\nper = "1m"\n\n'
        f'[slack]\nmode = "http"\nport = {port}\napi_base_url = "{slack.base_url}"\n\n{routes}'
    )
    sources = {name: (feeds.url(f"/{name}.xml"), outlet) for name, outlet in OUTLETS.items()}
    return write_config(folder, sources, extra=extra)


class Desk:
    """Starts, kills and restarts ``talks-bot run`` against one database, a run per folder."""

    def __init__(self, folder: Path, config: Path, database_url: str) -> None:
        self.folder = folder
        self.config = config
        self.env = bot_env(
            {
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "TALKS_BOT_DATABASE_URL": database_url,
            }
        )
        self.runs: list[BotProcess] = []

    def start(self) -> BotProcess:
        run = self.folder / f"run-{len(self.runs):02d}"
        run.mkdir()
        bot = BotProcess(run, ["run", "-v", "--config", str(self.config)], self.env).start()
        self.runs.append(bot)
        return bot

    def kill(self, bot: BotProcess) -> None:
        """SIGKILL: no handler runs, nothing is flushed, exactly like a power cut."""
        assert bot.process is not None
        if bot.process.poll() is None:
            os.kill(bot.process.pid, signal.SIGKILL)
        bot.process.wait(timeout=10)

    def logs(self, pattern: str) -> int:
        """How many log lines of all runs contain ``pattern``."""
        return sum(line.count(pattern) for bot in self.runs for line in bot.stderr().splitlines())

    def tail(self, lines: int = 60) -> str:
        if not self.runs:
            return ""
        return "\n".join(self.runs[-1].output().splitlines()[-lines:])

    def close(self) -> None:
        for bot in self.runs:
            bot.kill()


async def until_all_delivered(
    slack: FakeSlack,
    developments: Sequence[Development],
    bot: BotProcess,
    *,
    timeout: float,  # noqa: ASYNC109 -- a deadline for polling the fake, as in eventually()
    settle: float = 1.5,
) -> Ledger:
    """Wait until every development is in every channel, then a moment more for stray copies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bot.exited():
            raise AssertionError(f"the bot exited while delivering:\n{bot.output()[-4000:]}")
        if ledger(slack, developments).lost == 0:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(settle)
    return ledger(slack, developments)


def describe(name: str, figures: dict[str, Any]) -> str:
    return f"{name}: " + " ".join(f"{k}={v}" for k, v in figures.items())


__all__ = [
    "CHANNELS",
    "DEVELOPMENTS",
    "Desk",
    "Development",
    "FaultySlack",
    "Ledger",
    "Newsroom",
    "describe",
    "desk_config",
    "free_port",
    "ledger",
    "until_all_delivered",
]
