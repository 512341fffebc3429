"""The ``talks-bot`` command line (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import logs
from bot.core import messages as say
from bot.errors import ConfigError, TalksBotError

if TYPE_CHECKING:
    # bot.config (pydantic) is imported once the command line is parsed: --help, --version and
    # usage errors answer without it.
    from bot.config import Settings


class RedactSecrets(logging.Filter):
    """Replaces every configured secret value in log records with ``***``.

    The message, the traceback of ``log.exception`` (an exception's text can quote a URL or a
    header), which the formatter would otherwise render from ``exc_info`` untouched, and the
    text of structured fields (``extra=``), which the JSON format writes out.
    """

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 4]

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            if any(s in message for s in self.secrets):
                record.msg, record.args = self._redact(message), None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self._redact(record.exc_text)
            if record.stack_info:
                record.stack_info = self._redact(record.stack_info)
            for key, value in list(logs.extra_fields(record)):
                text = value if isinstance(value, str) else repr(value)
                if any(s in text for s in self.secrets):
                    setattr(record, key, self._redact(text))
        return True


def _logging(
    verbose: int, secrets: Sequence[str], *, base: int = logging.WARNING, form: str = "text"
) -> None:
    """Log to stderr from ``base`` (one step more per ``-v``), secrets redacted, as text lines
    or JSON (``form``, ``bot.logs``); the libraries' chatter stays at WARNING."""
    level = base - 10 * verbose
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logs.formatter(form))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(logging.DEBUG, level))
    for noisy in (
        "httpx",
        "httpcore",
        "apscheduler",
        "aiosqlite",
        "asyncio",
        "discord",
        "slack_bolt",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, level))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="talks-bot",
        description="Alerts for newsrooms following the cease-fire and hostage talks.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument(
        "--version", action=_VersionAction, nargs=0, help="show program's version number and exit"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--config",
            type=Path,
            default=None,
            help="configuration file (default: config/default.toml as shipped with talks-bot)",
        )
        # Its own dest: a subparser's default would overwrite ``talks-bot -v run``'s count.
        p.add_argument(
            "-v", "--verbose", action="count", default=0, dest="verbose_sub", help="more log output"
        )
        p.add_argument(
            "--log-format",
            choices=logs.FORMATS,
            default=None,
            help=f"log lines as text or one JSON object each (default: ${logs.ENV_FORMAT}, "
            "else text)",
        )
        return p

    for name, text in (
        ("run", "poll sources on schedule and deliver alerts until stopped"),
        ("poll-once", "poll every source once, deliver, and exit"),
    ):
        p = add(name, text)
        p.add_argument("--output", choices=["text", "jsonl"], default="text")
        p.add_argument(
            "--replay",
            action="store_true",
            help="judge items at their own published times, ignoring max_item_age",
        )
        if name == "poll-once":
            p.add_argument(
                OK_ON_FAILING,
                action="store_true",
                help="exit 0 even when sources fail or are backing off (by default: exit 1)",
            )
    p = add("demo", "run the whole pipeline offline over the sample feeds and print the alerts")
    p.add_argument("--output", choices=["text", "jsonl"], default="text")
    p = add("status", "what /talks status would answer")
    p.add_argument("period", nargs="?", default="24h", help="e.g. 6h, 2d (default 24h)")
    p.add_argument("--at", default=None, help="ISO time to report as of (default: now)")
    p.add_argument(
        "--since", default=None, help="list what changed since then instead, e.g. 6h or 09:00"
    )
    p = add("since", "what /talks since would answer: what changed since then, newest first")
    p.add_argument("when", help="a span back (6h, 90m) or a time of day (09:00, the config's zone)")
    p.add_argument("--at", default=None, help="ISO time to report as of (default: now)")
    p = add("why", "explain why a story scored what it did")
    p.add_argument("story", help="story id (or a unique prefix of 4+ characters)")
    p = add("check-config", "validate the configuration; print every problem")
    p.add_argument(
        "--connect",
        action="store_true",
        help="also connect to the database and check each chat token (nothing is posted)",
    )
    add("discord-invite", "print the OAuth2 URL that invites the Discord bot")
    add("healthcheck", "ask the running bot's /healthz; exit 0 when healthy, 1 when not")
    return parser


OK_ON_FAILING = "--ok-on-failing-sources"
"""``poll-once``: exit 0 although sources failed (for cron set-ups that watch the log instead)."""


class _VersionAction(argparse.Action):
    """``--version``: looks the installed version up only when asked (a metadata scan)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(f"{parser.prog} {_version()}")
        parser.exit()


def _version() -> str:
    """The installed package's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("talks-bot")
    except PackageNotFoundError:
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    """The command line. Output cut short by its reader (``talks-bot why X | head``) ends it
    quietly, as a closed pipe ends any Unix tool."""
    try:
        code = _main(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at devnull, so that flush cannot fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def cli() -> int:
    """The console entry point (``talks-bot``, ``python -m bot``): ``main`` with the garbage
    collector held off through start-up.

    Importing SQLAlchemy, pydantic and the desk and reading a config of a thousand sources build a
    few hundred thousand objects that live as long as the process. The cyclic collector, run
    after every 700 new objects, walks them over and over while they are being built: about a
    tenth of a one-shot command's CPU. It stays off until the command itself starts
    (``_settled``), which also sets what start-up built aside for good (``gc.freeze``), so a
    long ``run`` never walks it again either."""
    gc.disable()
    try:
        return main()
    finally:
        gc.enable()


def _settled() -> None:
    """Start-up is over: collect from here on, skipping every object built so far. Does nothing
    when ``main`` was called without ``cli`` (the collector was never held off)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        args.log_format = logs.log_format(args.log_format)
    except ConfigError as exc:
        print(f"error: {exc.problems[0]}", file=sys.stderr)
        return 2
    if args.command == "demo":
        return _demo(args)
    from bot.config import DEFAULT_CONFIG, load_config

    if args.command == "discord-invite":
        return _discord_invite(args.config or DEFAULT_CONFIG)
    if args.command == "healthcheck":
        return _healthcheck(args.config)
    try:
        settings = load_config(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        print(
            f"{len(exc.problems)} problem(s) in {args.config or DEFAULT_CONFIG}; "
            "fix them and run `talks-bot check-config` again",
            file=sys.stderr,
        )
        return 2
    # ``run`` is a service: its journal shows what it does (INFO); one-shot commands say only
    # what goes wrong, unless asked with -v.
    base = logging.INFO if args.command == "run" else logging.WARNING
    _logging(
        args.verbose + args.verbose_sub, settings.secrets.values(), base=base, form=args.log_format
    )
    if args.command == "check-config":
        valid = _check_config(settings)
        return asyncio.run(_check_connections(settings)) if args.connect else valid
    try:
        code: int = asyncio.run(_COMMANDS[args.command](settings, args))
        return code
    except KeyboardInterrupt:
        return 130
    except TalksBotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _check_config(settings: Settings) -> int:
    from bot.store import describe_url

    cfg = settings.config
    print(f"{settings.path}: ok")
    print(f"  sources: {len([s for s in cfg.sources if s.enabled])} enabled of {len(cfg.sources)}")
    print(f"  topics: {', '.join(t.id for t in cfg.topics) or '(none)'}")
    print(f"  routes: {', '.join(f'{r.platform}:{r.channel}' for r in cfg.routes)}")
    print(f"  database: {describe_url(settings.database_url)}")
    chats = [name for name in ("slack", "discord") if getattr(cfg, name) is not None]
    print(f"  chat: {', '.join(chats) or 'console only'}")
    print(f"  metrics: {settings.metrics_listen or 'off'}")
    return 0


async def _check_connections(settings: Settings) -> int:
    """``check-config --connect``: one line per connection; exit 1 if any failed."""
    from bot.preflight import connect_checks

    checks = await connect_checks(settings)
    for check in checks:
        print(check.line)
    failed = sum(not c.ok for c in checks)
    print(say.connect_summary(failed, len(checks)), file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0


async def _poll(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import TalksBot, held_back
    from bot.chat.connect import posting_chats

    _settled()

    async with (
        TalksBot(
            settings, output=args.output, replay=args.replay, writer=True, preload=False
        ) as bot,
        posting_chats(bot),
    ):
        cycle = await bot.poll_once()
        waiting = [p for p in cycle.polls if held_back(p)]
        health = {h.name: h for h in await bot.store.list_sources()} if waiting else {}
    now = bot.clock()
    for poll in cycle.failed:
        print(f"source {poll.source}: {poll.error}", file=sys.stderr)
    for poll in waiting:
        h = health.get(poll.source)
        until = say.clock_time(poll.next_poll, now, bot.tz) if poll.next_poll else "?"
        print(
            say.poll_once_backing_off(
                poll.source, until, h.consecutive_failures if h else 1, h.last_error if h else None
            ),
            file=sys.stderr,
        )
    d = cycle.delivery
    retries = [p.next_poll for p in waiting if p.next_poll is not None]
    print(
        say.poll_once_summary(
            sources=len(cycle.polls),
            healthy=len(cycle.polls) - len(cycle.failed) - len(waiting),
            failing=len(cycle.failed),
            backing_off=len(waiting),
            next_try=say.clock_time(min(retries), now, bot.tz) if retries else None,
            new_reports=sum(p.new_reports for p in cycle.polls),
            sent=d.sent,
            updated=d.updated,
            folded=d.folded,
            digests=d.digests,
            retrying=d.retrying,
            failed=d.failed,
        ),
        file=sys.stderr,
    )
    # A poll that was not saved will be decided again: tell cron, after the others delivered.
    if any(p.unsaved for p in cycle.polls):
        return 1
    if (cycle.failed or waiting) and not args.ok_on_failing_sources:
        print(say.poll_once_failed_exit(OK_ON_FAILING), file=sys.stderr)
        return 1
    return 0


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import TalksBot
    from bot.chat.connect import connect_chats

    _settled()

    # SIGTERM/SIGINT during start-up (database, chat connections) stop the bot cleanly too.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with TalksBot(settings, output=args.output, replay=args.replay, writer=True) as bot:
        tasks = await connect_chats(bot)
        await bot.run(stop, extra_tasks=tasks)
    # Stopped because another process took the database over: a supervisor should know.
    return 1 if bot.lost_writer else 0


async def _status(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import TalksBot
    from bot.core.replies import Caller

    _settled()

    async with TalksBot(settings) as bot:
        text = f"status {args.period}" if args.since is None else f"since {args.since}"
        now = _parse_at(args.at) if args.at else None
        reply = await bot.commands.handle(
            Caller("console", "", "console", "console"), text, now=now
        )
    print(reply.text)
    return 1 if reply.error else 0


async def _since(settings: Settings, args: argparse.Namespace) -> int:
    """``talks-bot since 6h``: ``talks-bot status --since 6h`` by its own name."""
    args.since = args.when
    args.period = "24h"
    return await _status(settings, args)


async def _why(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import TalksBot
    from bot.core.replies import Caller

    _settled()

    async with TalksBot(settings) as bot:
        reply = await bot.commands.handle(
            Caller("console", "", "console", "console"), f"why {args.story}"
        )
    print(reply.text)
    return 1 if reply.error else 0


def _discord_invite(path: Path) -> int:
    """The invite link needs only the application id (``DISCORD_APPLICATION_ID``, else the
    config's ``[discord] application_id``): no token, so it works before one is set up."""
    from bot.chat.discord.invite import application_id, invite_url

    try:
        app_id = application_id(path, os.environ)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    print(invite_url(app_id))
    return 0


HEALTHCHECK_TIMEOUT_SECONDS = 3.0
"""How long ``talks-bot healthcheck`` waits for /healthz (Docker's own timeout is 30 s)."""


def _healthcheck(path: Path | None) -> int:
    """For Docker's HEALTHCHECK: one line, and only exit codes 0 (healthy) and 1 (Docker
    reserves 2). Reads only the metrics address (config file or TALKS_BOT_METRICS_LISTEN), so
    it needs none of the bot's secrets."""
    import json
    import urllib.error
    import urllib.request

    from bot.config import metrics_listen, split_listen

    try:
        listen = metrics_listen(path)
    except ConfigError as exc:
        print(f"unhealthy: {'; '.join(exc.problems)}", file=sys.stderr)
        return 1
    if not listen:
        print(say.healthcheck_off(), file=sys.stderr)
        return 1
    host, port = split_listen(listen)
    # A bot listening on every address is asked on the loopback one.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=HEALTHCHECK_TIMEOUT_SECONDS) as answer:
            answer.read()
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("reason", "")
        except (ValueError, AttributeError, OSError):
            reason = ""
        print(say.healthcheck_unhealthy(url, f"answered {exc.code} {reason}".strip()))
        return 1
    except (OSError, ValueError) as exc:
        print(say.healthcheck_unhealthy(url, f"did not answer: {getattr(exc, 'reason', exc)}"))
        return 1
    print(say.healthcheck_healthy(url))
    return 0


def _parse_at(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise TalksBotError(
            f"--at {value!r} is not an ISO time: write e.g. 2024-05-05T18:00Z"
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if not AT_EARLIEST <= when <= AT_LATEST:
        raise TalksBotError(
            f"--at {value!r} is outside {AT_EARLIEST.year}-{AT_LATEST.year}: "
            "give the time the status should be read at, e.g. 2024-05-05T18:00Z"
        )
    return when


AT_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
AT_LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""``status --at`` reads a window of up to 30 days around the time: far from the ends of the
calendar, so that arithmetic on it cannot overflow."""


def _demo(args: argparse.Namespace) -> int:
    """Replay the sample feeds into a throwaway database and print what the desk would see."""
    from bot.config import SHIPPED_CONFIG, load_config

    config_path = args.config or SHIPPED_CONFIG / "demo.toml"
    with tempfile.TemporaryDirectory(prefix="talks-bot-demo-") as folder:
        os.environ["TALKS_BOT_DATABASE_URL"] = f"sqlite:///{Path(folder) / 'demo.db'}"
        try:
            settings = load_config(config_path, env_file=None)
        except ConfigError as exc:
            for problem in exc.problems:
                print(f"config error: {problem}", file=sys.stderr)
            return 2
        _logging(args.verbose + args.verbose_sub, settings.secrets.values(), form=args.log_format)
        return asyncio.run(_demo_run(settings, args.output))


async def _demo_run(settings: Settings, output: str) -> int:
    from bot.app import TalksBot

    _settled()
    from bot.core.ports import StoryFilter
    from bot.core.replies import Caller

    if output == "text":
        print("talks-bot demo: replaying the sample feeds in config/demo/feeds as if live…")
    async with TalksBot(settings, output=output, replay=True, writer=True) as bot:
        cycle = await bot.poll_once()
        # "Now" for the demo is just after the latest dated report, as if watching live.
        recent = datetime.now(UTC) - timedelta(hours=1)
        stories = await bot.store.stories(StoryFilter(until=recent, limit=1))
        if output == "text":
            d = cycle.delivery
            reports = sum(p.new_reports for p in cycle.polls)
            print(
                f"\n{reports} reports from {len(cycle.polls)} sources → "
                f"{len(await bot.store.stories(StoryFilter()))} stories → "
                f"{d.sent + d.folded} alerts ({d.updated} updated in place)"
            )
            if stories:
                as_of = stories[0].updated + timedelta(minutes=1)
                reply = await bot.commands.handle(
                    Caller("console", "", "console", "console"), "status 3d", now=as_of
                )
                print(f"\n/talks status, as of {as_of:%d %b %H:%M} UTC:\n{reply.text}")
                view = await bot.commands.status_view(as_of, timedelta(days=3))
                if view.top:
                    story_id = view.top[0].id
                    why = await bot.commands.handle(
                        Caller("console", "", "console", "console"), f"why {story_id}"
                    )
                    print(f"\n/talks why {story_id}:\n{why.text}")
    return 0


_COMMANDS: dict[str, Any] = {
    "run": _run,
    "poll-once": _poll,
    "status": _status,
    "since": _since,
    "why": _why,
}


if __name__ == "__main__":
    sys.exit(cli())
