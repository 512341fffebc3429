"""Platform-neutral chat commands: ``status``, ``topics``, ``subscribe`` ... ``help``.

Adapters turn a slash command into ``Commands.handle(caller, text)`` and render the ``Reply``.
Everything a person can ask is decided here, once, for every platform, and so is every answer
to a command that went wrong: ``handle`` is the one way in, and it never raises (see there).

Construct with ``Commands(store, topics, clock)``; optional keyword arguments tune ``status``
(``urgent_score``, ``status_top``, ``sources`` for the configured source names, ``tz`` for the
times it shows and the times of day ``since 09:00`` reads).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from rapidfuzz import fuzz, process

from bot.core import messages as say
from bot.core.corroborate import corroborate
from bot.core.duration import read_duration
from bot.core.models import Mute, Story, Subscription, Topic
from bot.core.ports import Clock, Store
from bot.core.replies import Caller, Item, Reply, Section
from bot.core.score import explain
from bot.core.since import read_since
from bot.core.status import (
    StatusView,
    load_since,
    load_status,
    load_talks,
    since_reply,
    status_reply,
    why_phase_reply,
)
from bot.errors import StoreError, UserError

log = logging.getLogger(__name__)

MAX_MUTE = timedelta(days=7)
MAX_STATUS = timedelta(days=30)
MAX_INPUT = 500


@dataclass(frozen=True, slots=True)
class CommandInfo:
    name: str
    usage: str
    summary: str
    slow: bool = False


COMMANDS: tuple[CommandInfo, ...] = (
    CommandInfo(
        "status",
        "status [6h | since 09:00]",
        "the talks at a glance: where they stand, top developments, topics, sources",
        True,
    ),
    CommandInfo("since", "since 6h | since 09:00", "what changed since then, newest first", True),
    CommandInfo("topics", "topics", "the topics the desk watches"),
    CommandInfo(
        "subscribe", "subscribe TOPIC [channel]", "follow a topic (or, for admins, the channel)"
    ),
    CommandInfo("unsubscribe", "unsubscribe TOPIC [channel]", "stop following a topic"),
    CommandInfo("subscriptions", "subscriptions [channel]", "what you (or the channel) follow"),
    CommandInfo("mode", "mode dm|mention", "get your alerts by direct message or as mentions"),
    CommandInfo(
        "mute", "mute DURATION [channel]", "quiet hours, e.g. mute 2h (urgent news still comes)"
    ),
    CommandInfo("unmute", "unmute [channel]", "end quiet hours"),
    CommandInfo(
        "why",
        "why STORY | why phase",
        "why a story alerted, or why the talks card says what it says",
    ),
    CommandInfo("help", "help [COMMAND]", "this list"),
)
_BY_NAME = {c.name: c for c in COMMANDS}
PHASE_WORDS = frozenset({"phase", "talks", "card"})
"""``why phase`` (or ``why talks``) explains the talks card, not a story."""
_SYNONYMS = {"follow": "subscribe", "unfollow": "unsubscribe", "subs": "subscriptions"}


def parse_duration(value: str) -> timedelta | None:
    """ "30m", "2h", "1d", "90s": the config's grammar (``bot.core.duration``), unit required."""
    return read_duration(value, unit_required=True)


format_age = say.format_age


class Commands:
    """The neutral handlers. ``handle`` never raises: every failure is answered (see there)."""

    def __init__(
        self,
        store: Store,
        topics: Sequence[Topic],
        clock: Clock,
        *,
        urgent_score: float = 0.85,
        status_top: int = 5,
        sources: Sequence[str] = (),
        tz: tzinfo = UTC,
    ) -> None:
        self.store = store
        self.tz = tz
        self.topics = tuple(topics)
        self.clock = clock
        self.urgent_score = urgent_score
        self.status_top = status_top
        self.sources = tuple(sources)
        self._names: dict[str, Topic] = {}
        for topic in self.topics:
            for name in (topic.id, topic.name, *topic.aliases):
                self._names.setdefault(name.casefold().strip(), topic)

    # --- what adapters call ------------------------------------------------------------------
    def is_slow(self, text: str) -> bool:
        """Commands to acknowledge first and answer after (they read many stories)."""
        name = text.strip().split(" ", 1)[0].casefold() if text.strip() else ""
        info = _BY_NAME.get(_SYNONYMS.get(name, name))
        return bool(info and info.slow)

    def complete_topic(self, prefix: str, limit: int = 25) -> list[tuple[str, str]]:
        """Topics for autocompletion: prefix matches first, then close spellings."""
        prefix = prefix.casefold().strip()
        if not prefix:
            return [(t.id, t.name) for t in self.topics][:limit]
        starts = [
            t
            for t in self.topics
            if any(n.casefold().startswith(prefix) for n in (t.id, t.name, *t.aliases))
        ]
        rest = [t for t in self.topics if t not in starts and prefix in _haystack(t)]
        return [(t.id, t.name) for t in (*starts, *rest)][:limit]

    def find_topic(self, name: str) -> Topic | None:
        return self._names.get(name.casefold().strip())

    def suggest_topics(self, name: str, limit: int = 3) -> list[str]:
        choices = {key: topic.id for key, topic in self._names.items()}
        found = process.extract(
            name.casefold(), list(choices), scorer=fuzz.WRatio, limit=limit * 3, score_cutoff=50
        )
        out: list[str] = []
        for key, _score, _ in found:
            if choices[key] not in out:
                out.append(choices[key])
        return out[:limit] or [t.id for t in self.topics][:limit]

    async def handle(self, caller: Caller, text: str, *, now: datetime | None = None) -> Reply:
        """Answer one command line (what follows ``/talks``) from ``caller``, whatever happens.

        The one place where a command's failure becomes a reply, for every platform (modelled
        on python-discord's central error handler): a mistake in what was typed (``UserError``)
        gets its one line saying what is wrong and what to type, with the closest valid
        choices; a database outage (``StoreError``) gets "try again in a minute" and a warning
        line for the operators; anything else gets a generic apology while its traceback goes
        to the log. The person never sees a traceback, and the adapters never see an exception.
        """
        text = text.strip()[:MAX_INPUT]
        try:
            return await self._run(caller, text, now or self.clock())
        except UserError as error:
            return Reply(str(error), error=True, suggestions=error.suggestions)
        except StoreError as error:
            log.warning("%s", say.command_not_answered(text, _who(caller), error))
            return Reply(say.store_unavailable(), error=True)
        except Exception:
            log.exception("%s", say.command_crashed(text, _who(caller)))
            return Reply(say.command_failed(), error=True)

    async def _run(self, caller: Caller, text: str, when: datetime) -> Reply:
        """Carry out one command; bad input raises ``UserError`` with the line to answer."""
        parts = text.split()
        if not parts:
            return self._help(None)
        name, args = parts[0].casefold(), parts[1:]
        name = _SYNONYMS.get(name, name)
        if name == "status" and args and args[0].casefold() == "since":
            return await self._since(args[1:], when)
        if name == "status":
            return await self._status(caller, args, when)
        if name == "since":
            return await self._since(args, when)
        if name == "why" and len(args) == 1 and args[0].casefold() in PHASE_WORDS:
            return await self._why_phase(when)
        if name == "topics":
            return await self._topics(caller)
        if name in {"subscribe", "unsubscribe"}:
            return await self._subscribe(caller, args, name == "subscribe", when)
        if name == "subscriptions":
            return await self._subscriptions(caller, args)
        if name == "mode":
            return await self._mode(caller, args, when)
        if name == "mute":
            return await self._mute(caller, args, when)
        if name == "unmute":
            return await self._unmute(caller, args)
        if name == "why":
            return await self._why(args)
        if name == "help":
            return self._help(args[0] if args else None)
        suggestions = [
            match
            for match, _s, _ in process.extract(
                name, list(_BY_NAME), scorer=fuzz.ratio, limit=2, score_cutoff=55
            )
        ]
        raise UserError(say.unknown_command(name, suggestions), suggestions=suggestions)

    # --- subscriptions -------------------------------------------------------------------------
    def _scope(self, args: list[str]) -> tuple[list[str], str]:
        if args and args[-1].casefold() in {"channel", "here", "#channel"}:
            return args[:-1], "channel"
        return args, "me"

    async def _subscribe(self, caller: Caller, args: list[str], on: bool, now: datetime) -> Reply:
        args, where = self._scope(args)
        command = "subscribe" if on else "unsubscribe"
        if not args:
            raise UserError(say.missing_topic(command))
        if where == "channel" and not caller.is_admin:
            raise UserError(say.admin_only(f"{command} the channel"))
        wanted = " ".join(args)
        topic = self.find_topic(wanted)
        if topic is None:
            suggestions = self.suggest_topics(wanted)
            raise UserError(say.unknown_topic(wanted, suggestions), suggestions=suggestions)
        subscriber = caller.channel if where == "channel" else caller.user
        channel = where == "channel"
        if not on:
            removed = await self.store.remove_subscription(
                caller.platform, caller.workspace, subscriber, topic.id, channel
            )
            text = (
                say.unsubscribed(topic.name, where)
                if removed
                else say.not_subscribed(topic.name, where)
            )
            return Reply(text, ephemeral=not channel)
        mode = "dm" if channel else await self._mode_of(caller)
        created = await self.store.add_subscription(
            Subscription(
                caller.platform, caller.workspace, subscriber, topic.id, channel, mode, now
            )
        )
        text = (
            say.subscribed(topic.name, where, mode)
            if created
            else say.already_subscribed(topic.name, where)
        )
        return Reply(text, ephemeral=not channel)

    async def _mode_of(self, caller: Caller) -> str:
        stored = await self.store.get_meta(_mode_key(caller))
        return stored if stored in {"dm", "mention"} else "dm"

    async def _subscriptions(self, caller: Caller, args: list[str]) -> Reply:
        _rest, where = self._scope(args)
        subs = await self._subs_of(caller, where == "channel")
        if not subs:
            return Reply(say.no_subscriptions(where))
        items = tuple(
            Item(
                f"{self._topic_name(s.topic)}" + ("" if s.channel else f" ({s.mode})"),
                fields={"topic": s.topic, "mode": s.mode},
            )
            for s in subs
        )
        title = "This channel follows" if where == "channel" else "You follow"
        text = f"{title}: " + ", ".join(i.text for i in items)
        return Reply(text, title=title, sections=(Section(title, items, "subscriptions"),))

    async def _subs_of(self, caller: Caller, channel: bool) -> list[Subscription]:
        subscriber = caller.channel if channel else caller.user
        return await self.store.subscriptions_of(
            caller.platform, caller.workspace, subscriber, channel
        )

    async def _mode(self, caller: Caller, args: list[str], now: datetime) -> Reply:
        value = args[0].casefold() if args else ""
        if value in {"direct", "dms"}:
            value = "dm"
        if value not in {"dm", "mention"}:
            raise UserError(say.bad_mode(value or ""))
        await self.store.set_meta(_mode_key(caller), value)
        subs = await self._subs_of(caller, False)
        for sub in subs:
            await self.store.add_subscription(
                Subscription(
                    sub.platform,
                    sub.workspace,
                    sub.subscriber,
                    sub.topic,
                    False,
                    value,
                    sub.created or now,
                )
            )
        return Reply(say.mode_set(value, len(subs)))

    async def _mute(self, caller: Caller, args: list[str], now: datetime) -> Reply:
        args, where = self._scope(args)
        if where == "channel" and not caller.is_admin:
            raise UserError(say.admin_only("mute alerts"))
        duration = parse_duration(args[0]) if args else None
        if duration is None or duration > MAX_MUTE:
            raise UserError(say.bad_duration(args[0] if args else "", longest=MAX_MUTE))
        until = now + duration
        subject = caller.channel if where == "channel" else caller.user
        await self.store.set_mute(Mute(caller.platform, caller.workspace, subject, until))
        return Reply(
            say.muted(where, until.strftime("%H:%M UTC %d %b"), self.urgent_score),
            ephemeral=where != "channel",
        )

    async def _unmute(self, caller: Caller, args: list[str]) -> Reply:
        _rest, where = self._scope(args)
        if where == "channel" and not caller.is_admin:
            raise UserError(say.admin_only("unmute alerts"))
        subject = caller.channel if where == "channel" else caller.user
        was = await self.store.clear_mute(caller.platform, caller.workspace, subject)
        return Reply(say.unmuted(where, was), ephemeral=where != "channel")

    # --- topics and why ------------------------------------------------------------------------
    async def _topics(self, caller: Caller) -> Reply:
        mine = {s.topic for s in await self._subs_of(caller, False)}
        items = []
        for topic in self.topics:
            terms = ", ".join(t.text for t in topic.terms[:5])
            mark = " ✓" if topic.id in mine else ""
            line = f"{topic.id}{mark} — {topic.description or topic.name} ({terms})"
            items.append(
                Item(
                    line,
                    fields={
                        "id": topic.id,
                        "name": topic.name,
                        "following": "yes" if mark else "no",
                        "terms": terms,
                    },
                )
            )
        text = (
            "Topics:\n"
            + "\n".join(f"• {i.text}" for i in items)
            + "\nFollow one with `subscribe TOPIC`."
        )
        return Reply(text, title="Topics", sections=(Section("Topics", tuple(items), "topics"),))

    async def _why(self, args: list[str]) -> Reply:
        if not args:
            raise UserError(say.missing_story())
        story = await self.store.get_story(args[0].strip())
        if story is None:
            raise UserError(say.unknown_story(args[0]))
        follows = await self.store.get_story(story.follows) if story.follows else None
        return why_reply(story, self.topics, follows)

    def _help(self, name: str | None) -> Reply:
        if name:
            info = _BY_NAME.get(_SYNONYMS.get(name.casefold(), name.casefold()))
            if info is None:
                raise UserError(say.unknown_command(name, []))
            return Reply(f"`{info.usage}` — {info.summary}", title="help")
        items = tuple(
            Item(f"{c.usage} — {c.summary}", fields={"command": c.name, "usage": c.usage})
            for c in COMMANDS
        )
        text = "Commands:\n" + "\n".join(f"• {i.text}" for i in items)
        return Reply(text, title="talks-bot commands", sections=(Section("Commands", items),))

    def _topic_name(self, topic_id: str) -> str:
        for topic in self.topics:
            if topic.id == topic_id:
                return topic.name
        return topic_id

    # --- status --------------------------------------------------------------------------------
    async def _status(self, caller: Caller, args: list[str], now: datetime) -> Reply:
        period = timedelta(hours=24)
        if args:
            parsed = parse_duration(args[0])
            if parsed is None or parsed > MAX_STATUS:
                raise UserError(say.bad_duration(args[0], longest=MAX_STATUS))
            period = parsed
        view = await self.status_view(now, period, caller=caller)
        return status_reply(view)

    async def _since(self, args: list[str], now: datetime) -> Reply:
        value = " ".join(args)
        since = read_since(value, now, self.tz, longest=MAX_STATUS)
        if since is None:
            raise UserError(say.bad_since(value, longest=MAX_STATUS))
        return since_reply(await load_since(self.store, self.topics, since, now, tz=self.tz))

    async def _why_phase(self, now: datetime) -> Reply:
        return why_phase_reply(await load_talks(self.store, self.topics, now), self.tz)

    async def status_view(
        self, now: datetime, period: timedelta, *, caller: Caller | None = None, top: int = 0
    ) -> StatusView:
        """Where the talks stand over ``period`` (``status``, and the scheduled briefing)."""
        return await load_status(
            self.store,
            self.topics,
            now,
            period,
            caller=caller,
            top=top or self.status_top,
            sources=self.sources,
            tz=self.tz,
        )


def _haystack(topic: Topic) -> str:
    return " ".join((topic.id, topic.name, *topic.aliases)).casefold()


def _mode_key(caller: Caller) -> str:
    return f"mode:{caller.platform}:{caller.workspace}:{caller.user}"


def _who(caller: Caller) -> str:
    """The caller as a log line names them (ids only: names can be anything)."""
    return f"{caller.platform} user {caller.user or '?'}"


def why_reply(story: Story, topics: Sequence[Topic], follows: Story | None = None) -> Reply:
    """The explanation of a story's scores and its dedup group, as text and sections; with the
    earlier development it probably follows, when dedup was not sure enough to merge them."""
    by_id = {t.id: t for t in topics}
    lines = [f"Why “{story.title}” ({story.id})"]
    sections = []
    if follows is not None:
        line = say.probably_follows(follows.title, follows.id)
        lines.append(line)
        sections.append(
            Section("Probably follows", (Item(line, url=follows.url, fields={"id": follows.id}),))
        )
    score_items = []
    for score in sorted(story.scores, key=lambda s: -s.score):
        topic = by_id.get(score.topic)
        if topic is None or (score.score == 0 and not score.matches):
            continue
        detail = explain(score, topic)
        verdict = "alerts" if score.score >= topic.min_score else "below threshold"
        head = f"{topic.name}: {score.score:.2f} ({verdict}, threshold {topic.min_score:.2f})"
        lines.append(head)
        lines.extend(f"  {d}" for d in detail[1:])
        score_items.append(
            Item(
                head,
                fields={
                    "topic": topic.id,
                    "score": f"{score.score:.2f}",
                    "detail": "\n".join(detail),
                },
            )
        )
    if not score_items:
        lines.append("No watched term matched this story.")
    sections.append(Section("Scores", tuple(score_items), "list"))
    report_items = []
    lines.append(f"Reported by {len(story.outlets)} outlet(s), {len(story.reports)} report(s):")
    for r in story.reports:
        how = (
            "first report"
            if r.matched_key is None
            else f"{r.reason or 'matched'} ({r.similarity:.0f})"
        )
        line = f"{r.outlet}: “{r.title}” — {how}"
        lines.append(f"  {line}")
        report_items.append(
            Item(
                line,
                url=r.url,
                fields={"outlet": r.outlet, "similarity": f"{r.similarity:.0f}", "reason": how},
            )
        )
    sections.append(Section("Dedup group", tuple(report_items), "stories"))
    lines.extend(_why_copies(story, sections))
    return Reply("\n".join(lines), title=f"Why {story.id}", sections=tuple(sections))


def _why_copies(story: Story, sections: list[Section]) -> list[str]:
    """The corroboration part of ``why``: who counts as independent, and which reports were
    counted as copies of whom and why (one line per origin and reason); adds its section."""
    found = corroborate(story.reports)
    grouped: dict[tuple[str, str], list[str]] = {}
    for copy in found.copies:
        outlets = grouped.setdefault((copy.reason, copy.copy_of), [])
        if copy.outlet not in outlets:
            outlets.append(copy.outlet)
    head = say.why_independent(found.independent, len(found.copies))
    items = [
        Item(
            say.copied(outlets, reason, origin),
            fields={"copy_of": origin, "reason": reason, "outlets": ", ".join(outlets)},
        )
        for (reason, origin), outlets in grouped.items()
    ]
    sections.append(Section("Corroboration", (Item(head), *items), "list"))
    return [head, *(f"  {item.text}" for item in items)]
