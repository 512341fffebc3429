"""Configuration: one TOML file for what the bot does, the environment for secrets.

``load_config`` reads and validates everything at once and raises ``ConfigError`` listing every
problem, each naming its key and the fix, so an operator fixes the file in one pass. Secrets (chat
tokens, a database URL with a password) come only from the environment or a ``.env`` file; a
secret written into the TOML file is itself a configuration error.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.core import messages as say
from bot.core.duration import read_duration, written_seconds
from bot.core.models import Destination, Term, Topic
from bot.errors import ConfigError, StoreError

SHIPPED_CONFIG = Path(__file__).resolve().parent / "data" / "config"
"""The repository's ``config/`` as installed inside the package (``bot/data/config`` links to it
in a checkout), so the default and demo configs are found whatever the working directory."""
DEFAULT_CONFIG = SHIPPED_CONFIG / "default.toml"
DEFAULT_DATABASE = "sqlite:///talks-bot.db"


def parse_duration(value: object) -> timedelta:
    """ "90s", "5m", "24h", "2d" or a number of seconds (one grammar: ``bot.core.duration``)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("expected a duration like '5m' or '24h'")
    text = value if isinstance(value, str) else f"{float(value):f}"
    parsed = read_duration(text)
    if parsed is not None:
        return parsed
    seconds = written_seconds(text)
    if seconds is not None and seconds <= 0:
        raise ValueError(f"{value!r} must be longer than zero")
    raise ValueError(f"{value!r} is not a duration: write it like '90s', '5m', '24h' or '2d'")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

_DIGITS = re.compile(r"^[0-9]{1,20}$")


def discord_id(value: object) -> str:
    """A Discord id (snowflake), written as a number or a string; kept as a string of digits."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str) or not _DIGITS.match(text) or not int(text):
        raise ValueError(
            f"{value!r} is not a Discord id: copy it in Discord (Developer Mode, right-click, "
            "Copy ID) and write it as a number or a string, e.g. 1234567890123456789"
        )
    return text


def _text(value: object) -> object:
    """An id the file may write as a number (a Discord channel) is a string inside."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


GuildId = Annotated[int, BeforeValidator(lambda v: int(discord_id(v)))]
"""A server id, written as a number or a string: an int inside, as the Discord client takes it."""
OptionalDiscordId = Annotated[str, BeforeValidator(lambda v: v if v == "" else discord_id(v))]
IdText = Annotated[str, BeforeValidator(_text)]
"""A string that may be written as an integer: route channels and workspaces, Discord roles."""

_SECRET_KEYS = re.compile(r"(token|secret|password|api_key|apikey)$", re.I)
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,48}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BotSettings(_Strict):
    """[bot]: how the pipeline behaves."""

    database_url: str = ""
    """Non-secret database location; TALKS_BOT_DATABASE_URL overrides it (and carries passwords)."""
    max_item_age: Duration = timedelta(hours=24)
    poll_interval: Duration = timedelta(minutes=5)
    min_poll_interval: Duration = timedelta(minutes=1)
    """Adaptive polling (sources without their own ``interval``) never polls a source more
    often than this; busy sources reach it."""
    max_poll_interval: Duration = timedelta(minutes=30)
    """Adaptive polling never leaves a quiet source unpolled longer than this."""
    poll_jitter: Duration = timedelta(seconds=20)
    misfire_grace: Duration = timedelta(minutes=5)
    dedup_window: Duration = timedelta(hours=48)
    summary_max_chars: int = Field(280, ge=80, le=2000)
    summary_sentences: int = Field(2, ge=1, le=5)
    urgent_score: float = Field(0.85, ge=0, le=1)
    full_text: StrictBool = False
    """Fetch the article page when a feed gives only a headline or a stub."""
    full_text_allow: tuple[str, ...] = ()
    """Hosts, IPs or CIDRs the article fetcher may reach even though they are private."""
    timezone: str = "UTC"
    status_top: int = Field(5, ge=1, le=20)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a time zone: use an IANA name like 'Europe/London' or 'UTC'"
            ) from None
        return value


class FetchSettings(_Strict):
    """[fetch]: politeness and limits for every HTTP request."""

    timeout: Duration = timedelta(seconds=15)
    deadline: Duration = timedelta(seconds=30)
    max_bytes: int = Field(10_000_000, ge=10_000)
    max_redirects: int = Field(5, ge=0, le=20)
    max_per_host: int = Field(4, ge=1, le=64)
    user_agent: str = ""
    backoff_base: Duration = timedelta(minutes=1)
    backoff_max: Duration = timedelta(hours=1)


class StoreSettings(_Strict):
    """[store]: how long the bot waits for its database."""

    timeout: Duration = timedelta(seconds=15)
    """The deadline of one database transaction (connect, statements, commit). A database that
    stops answering fails the poll or delivery round in hand, which is retried, instead of
    freezing it."""

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=0.1) <= value <= timedelta(minutes=10):
            raise ValueError(
                f"{value.total_seconds():g}s is out of range: write a duration between "
                "'0.1s' and '10m', e.g. '15s'"
            )
        return value


class FloodSettings(_Strict):
    """[flood]: more than ``max_alerts`` within ``per`` to one destination fold into a digest."""

    max_alerts: int = Field(5, ge=1, le=100)
    per: Duration = timedelta(minutes=10)


class SourceConfig(_Strict):
    """One [[sources]] entry."""

    name: str
    url: str
    interval: Duration | None = None
    """A fixed interval for this source; adaptive polling only within ``min_interval`` /
    ``max_interval`` when those are set too. Without it: adaptive, from ``bot.poll_interval``."""
    min_interval: Duration | None = None
    """Lower bound of adaptive polling for this source (default ``bot.min_poll_interval``,
    or ``interval`` when that is set)."""
    max_interval: Duration | None = None
    """Upper bound of adaptive polling for this source (default ``bot.max_poll_interval``,
    or ``interval`` when that is set)."""
    weight: float = Field(1.0, ge=0, le=2)
    outlet: str = ""
    aggregator: StrictBool = False
    enabled: StrictBool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty: give the source a short unique name")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        scheme = urlsplit(value).scheme.lower()
        if scheme not in {"http", "https", "file"}:
            raise ValueError(
                f"{value!r} is not a feed address: use an http(s):// URL or file://PATH"
            )
        if scheme in {"http", "https"} and not urlsplit(value).hostname:
            raise ValueError(f"{value!r} has no host name")
        return value


class TermConfig(_Strict):
    text: str
    weight: float = Field(1.0, gt=0, le=2)
    variants: tuple[str, ...] = ()
    fuzzy: StrictBool = True


class TopicConfig(_Strict):
    """One [[topics]] entry."""

    id: str
    name: str = ""
    description: str = ""
    aliases: tuple[str, ...] = ()
    min_score: float = Field(0.5, ge=0, le=1)
    negative: tuple[str, ...] = ()
    require: tuple[tuple[str, ...], ...] = ()
    terms: tuple[TermConfig, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(
                f"{value!r} is not a topic id: use lower-case letters, digits, '-' or '_'"
            )
        return value

    @field_validator("terms", mode="before")
    @classmethod
    def _terms(cls, value: Any) -> Any:
        # A bare string is a term of weight 1: terms = ["Rafah", "Rafiah"] is allowed.
        if isinstance(value, list):
            return [{"text": v} if isinstance(v, str) else v for v in value]
        return value

    def to_topic(self) -> Topic:
        return Topic(
            id=self.id,
            name=self.name or self.id,
            terms=tuple(Term(t.text, t.weight, tuple(t.variants), t.fuzzy) for t in self.terms),
            aliases=tuple(self.aliases),
            negative=tuple(self.negative),
            require=tuple(tuple(g) for g in self.require),
            min_score=self.min_score,
            description=self.description,
        )


Platform = Literal["console", "slack", "discord"]


class RouteConfig(_Strict):
    """One [[routes]] entry: the desk's standing alerts to a channel."""

    platform: Platform = "console"
    channel: IdText = "console"
    workspace: IdText = ""
    topics: tuple[str, ...] = ("*",)
    min_score: float | None = Field(None, ge=0, le=1)
    """Alert when a topic scores at least this; default: each topic's own min_score."""
    style: Literal["full", "compact"] = "full"
    digest: str = ""
    """Cron expression for a scheduled briefing to this route, e.g. "0 7,19 * * *"; empty: none."""
    push: Literal["developments", "all"] = "developments"
    """"developments": background (analysis, explainers, warnings) waits for the digest, or is
    pushed marked as background when the route has none; "all": everything is pushed."""
    threads: StrictBool = True
    """Later reports of a development become replies in its alert's thread (true), or only
    edit the alert in place (false)."""

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        from apscheduler.triggers.cron import CronTrigger

        try:
            if len(value.split()) != 5:
                raise ValueError("needs five fields")
            CronTrigger.from_crontab(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a cron expression: write five fields "
                "(minute hour day month weekday), e.g. '0 7,19 * * *'"
            ) from None
        return value


class SlackConfig(_Strict):
    """[slack]: the Slack app's connection (tokens come from the environment)."""

    mode: Literal["socket", "http"] = "socket"
    port: int = Field(3000, ge=1, le=65535)
    api_base_url: str = ""
    admins: tuple[str, ...] = ()


class DiscordConfig(_Strict):
    """[discord]: the Discord bot's connection (the token comes from the environment)."""

    guilds: tuple[GuildId, ...] = ()
    sync: Literal["guild", "global"] = "guild"
    api_base_url: str = ""
    gateway_url: str = ""
    admin_roles: tuple[IdText, ...] = ()
    """Role ids (numbers or strings) or role names."""
    application_id: OptionalDiscordId = ""


METRICS_ENV = "TALKS_BOT_METRICS_LISTEN"
"""The environment's word on ``[metrics] listen`` (it wins over the file)."""


def split_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) as (host, port); ValueError with the one-line
    fix when it is not one."""
    from bot.core.messages import metrics_listen_invalid

    host, sep, port = value.strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535 or " " in host:
        raise ValueError(metrics_listen_invalid(value))
    return host, int(port)


class MetricsSettings(_Strict):
    """[metrics]: Prometheus metrics, /healthz and /readyz on one small HTTP server (off when
    ``listen`` is empty)."""

    listen: str = ""
    """``HOST:PORT`` to serve on, e.g. ``127.0.0.1:9464``; ``TALKS_BOT_METRICS_LISTEN`` wins."""

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        if value.strip():
            split_listen(value)
        return value.strip()


_SLACK_CHANNEL = re.compile(r"^[A-Z0-9]{2,40}$")


class OpsConfig(_Strict):
    """[ops]: where the desk's operators hear about source trouble (``bot.core.ops``)."""

    channel: str = ""
    """"slack:CHANNEL", "discord:CHANNEL" or "console"; "" (the default): no ops messages."""

    @field_validator("channel", mode="before")
    @classmethod
    def _channel(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError(say.bad_ops_channel(value))
        value = value.strip()
        if value in {"", "console"}:
            return value
        platform, _, channel = value.partition(":")
        channel = channel.strip()
        if platform == "slack" and _SLACK_CHANNEL.match(channel):
            return f"slack:{channel}"
        if platform == "discord" and _DIGITS.match(channel) and int(channel):
            return f"discord:{channel}"
        raise ValueError(say.bad_ops_channel(value))

    @property
    def destination(self) -> Destination | None:
        """The ops channel as a destination; None when there is none."""
        if not self.channel:
            return None
        if self.channel == "console":
            return Destination("console", "ops")
        platform, _, channel = self.channel.partition(":")
        return Destination(platform, channel)


class Config(_Strict):
    """The whole file."""

    bot: BotSettings = BotSettings()
    fetch: FetchSettings = FetchSettings()
    store: StoreSettings = StoreSettings()
    flood: FloodSettings = FloodSettings()
    metrics: MetricsSettings = MetricsSettings()
    sources: tuple[SourceConfig, ...] = ()
    topics: tuple[TopicConfig, ...] = ()
    routes: tuple[RouteConfig, ...] = (RouteConfig(),)
    slack: SlackConfig | None = None
    discord: DiscordConfig | None = None
    ops: OpsConfig = OpsConfig()

    @property
    def topic_models(self) -> tuple[Topic, ...]:
        return tuple(t.to_topic() for t in self.topics)


class Secrets(BaseSettings):
    """Secrets, read from the environment or a ``.env`` file, never from the TOML file."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    talks_bot_database_url: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    discord_token: SecretStr | None = None

    def values(self) -> list[str]:
        """Every configured secret value (to keep them out of logs and output)."""
        out = []
        for name in type(self).model_fields:
            secret = getattr(self, name)
            if name != "talks_bot_database_url" and secret and secret.get_secret_value():
                out.append(secret.get_secret_value())
        url = self.talks_bot_database_url
        if url is not None:
            parts = urlsplit(url.get_secret_value())
            passwords = [parts.password or ""]
            # libpq also takes the password as a query parameter: ?password=...
            for key, values in parse_qs(parts.query).items():
                if key.lower() in {"password", "sslpassword"}:
                    passwords.extend(values)
            if any(passwords):
                # A location without a password (a SQLite path) is no secret: errors name it.
                out.append(url.get_secret_value())
            for password in passwords:
                # As written (percent-encoded) and as the driver sees it.
                out.extend(dict.fromkeys(p for p in (password, unquote(password)) if p))
        return out


class Settings(BaseModel):
    """A validated configuration and the secrets that go with it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    config: Config
    secrets: Secrets
    path: Path
    metrics_listen: str = ""
    """Where metrics and health are served (``TALKS_BOT_METRICS_LISTEN``, else ``[metrics]
    listen``); empty: off."""

    @property
    def database_url(self) -> str:
        if self.secrets.talks_bot_database_url is not None:
            value = self.secrets.talks_bot_database_url.get_secret_value().strip()
            if value:
                return value
        return self.config.bot.database_url or DEFAULT_DATABASE

    @property
    def base_dir(self) -> Path:
        """Relative ``file://`` sources resolve against the folder holding ``config/``."""
        folder = self.path.resolve().parent
        return folder.parent if folder.name == "config" else folder


def read_toml(
    path: Path, *, missing: str = "pass --config PATH or copy config/default.toml"
) -> dict[str, Any]:
    """The config file's tables, or a ConfigError saying what is wrong with the file and, when
    it is missing, what to do (``missing``)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"config file {path} not found: {missing}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"config file {path} cannot be read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"config file {path} is not valid TOML: {exc}"]) from None


def load_config(path: Path | str | None = None, *, env_file: str | None = ".env") -> Settings:
    """Read, validate and return the configuration; raise ConfigError listing every problem."""
    path = Path(path) if path else DEFAULT_CONFIG
    raw = read_toml(path)

    problems = _secret_problems(raw)
    problems.extend(_include_topics(raw, path))
    flagged = {line.split(":", 1)[0] for line in problems}
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems.extend(line for line in _describe(exc) if line.split(":", 1)[0] not in flagged)
        config = None
    problems.extend(_cross_problems(raw))
    problems.extend(_bound_problems(raw))
    try:
        secrets = Secrets(_env_file=env_file)
    except ValidationError as exc:
        problems.extend(_describe(exc))
        secrets = None
    problems.extend(_database_problems(raw, secrets))
    if config is not None and secrets is not None:
        problems.extend(_credential_problems(config, secrets))
    listen, problem = _metrics_env()
    problems.extend(problem)
    if problems or config is None or secrets is None:
        raise ConfigError(problems)
    return Settings(
        config=config, secrets=secrets, path=path, metrics_listen=listen or config.metrics.listen
    )


def _metrics_env() -> tuple[str, list[str]]:
    """``TALKS_BOT_METRICS_LISTEN`` checked: (its value or "", the problem with it)."""
    value = os.environ.get(METRICS_ENV, "").strip()
    if not value:
        return "", []
    try:
        split_listen(value)
    except ValueError as exc:
        return "", [f"{METRICS_ENV}: {exc}"]
    return value, []


def metrics_listen(path: Path | str | None = None) -> str:
    """Where a running bot serves /healthz, read as ``run`` reads it but without the rest of the
    configuration (``talks-bot healthcheck`` must not need the bot's secrets); "" when off.
    ConfigError when the address, or the file, is wrong."""
    value, problems = _metrics_env()
    if problems:
        raise ConfigError(problems)
    if value:
        return value
    table = read_toml(Path(path) if path else DEFAULT_CONFIG).get("metrics", {})
    try:
        return MetricsSettings.model_validate(table).listen
    except ValidationError as exc:
        raise ConfigError([f"metrics.{line}" for line in _describe(exc)]) from None


def _include_topics(raw: dict[str, Any], path: Path) -> list[str]:
    """``topics_from = "default.toml"``: take the ``[[topics]]`` of another file (relative to this
    one), so a demo or test config need not repeat the desk's topic definitions."""
    other = raw.pop("topics_from", None)
    if other is None:
        return []
    if not isinstance(other, str) or not other.strip():
        return ["topics_from: give the path of a TOML file holding [[topics]]"]
    source = path.parent / other
    try:
        included = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return [f"topics_from: cannot read topics from {source}: {exc}"]
    if "topics" in raw:
        return ["topics_from: this file has its own [[topics]] too: keep one or the other"]
    raw["topics"] = included.get("topics", [])
    return []


def _secret_problems(raw: dict[str, Any], prefix: str = "") -> list[str]:
    problems = []
    for key, value in raw.items():
        where = f"{prefix}{key}"
        if isinstance(value, dict):
            problems.extend(_secret_problems(value, f"{where}."))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    problems.extend(_secret_problems(item, f"{where}[{i}]."))
                elif isinstance(item, str) and _url_credentials(item):
                    problems.append(f"{where}[{i}]: {_CREDENTIALS_FIX}")
        elif _SECRET_KEYS.search(key):
            problems.append(
                f"{where}: secrets do not belong in the config file: remove it and set the "
                f"environment variable instead (see config/.env.example)"
            )
        elif key == "database_url" and isinstance(value, str):
            if _url_credentials(value, database=True):
                problems.append(
                    f"{where}: this URL holds a password: remove it here and set "
                    f"TALKS_BOT_DATABASE_URL in the environment or .env instead"
                )
        elif isinstance(value, str) and _url_credentials(value):
            problems.append(f"{where}: {_CREDENTIALS_FIX}")
    return problems


_CREDENTIALS_FIX = (
    "this URL holds credentials (a user name, password or token): remove them and put secrets "
    "in the environment (.env), not in the config file"
)


def _url_credentials(value: str, *, database: bool = False) -> bool:
    """Whether the URL ``value`` carries a secret: a password (or, outside a database URL, any
    user name) before the host, or a query parameter named like a secret (``?token=``)."""
    if "://" not in value:
        return False
    try:
        parts = urlsplit(value.strip())
        user, password = parts.username, parts.password
    except ValueError:  # an unreadable host or port: look for user info by hand
        netloc = value.split("://", 1)[1].split("/", 1)[0]
        user, _, password = netloc.rpartition("@")[0].partition(":")
        parts = None
    if password or (user and not database):
        return True
    query = parts.query if parts is not None else value.partition("?")[2]
    return any(_SECRET_KEYS.search(key) for key in parse_qs(query, keep_blank_values=True))


def _cross_problems(raw: dict[str, Any]) -> list[str]:
    """Checks across entries, run on the raw document so they show even beside field errors."""
    problems: list[str] = []
    sources = [s for s in raw.get("sources", []) if isinstance(s, dict)]
    names = [str(s.get("name", "")).strip() for s in sources]
    for dup in sorted({n for n in names if n and names.count(n) > 1}):
        problems.append(f"sources: the name {dup!r} is used twice: give each source its own")
    topics = [t for t in raw.get("topics", []) if isinstance(t, dict)]
    ids = [str(t.get("id", "")) for t in topics]
    for dup in sorted({i for i in ids if i and ids.count(i) > 1}):
        problems.append(f"topics: the id {dup!r} is used twice: give each topic its own")
    known = set(ids)
    routes = raw.get("routes", [])
    for i, route in enumerate(routes if isinstance(routes, list) else []):
        if not isinstance(route, dict):
            continue
        route_topics = route.get("topics", ["*"])
        for topic in route_topics if isinstance(route_topics, list) else []:
            if topic != "*" and topic not in known:
                problems.append(
                    f"routes[{i}].topics: unknown topic {topic!r}: use one of "
                    f"{', '.join(sorted(known)) or '(no topics defined)'} or '*'"
                )
        platform = route.get("platform", "console")
        if platform in {"slack", "discord"} and not isinstance(raw.get(platform), dict):
            problems.append(f"routes[{i}].platform: {platform!r} needs a [{platform}] table")
        if platform == "discord":
            for key, what in (("channel", "channel"), ("workspace", "server")):
                value = route.get(key, "console" if key == "channel" else "")
                if key == "workspace" and value == "":
                    continue
                try:
                    discord_id(value)
                except ValueError:
                    problems.append(
                        f"routes[{i}].{key}: {value!r} is not a Discord {what} id: copy it in "
                        f"Discord (Developer Mode, right-click the {what}, Copy ID) and write "
                        "it as a number or a string"
                    )
    ops = raw.get("ops")
    channel = ops.get("channel") if isinstance(ops, dict) else None
    try:
        ops_channel = OpsConfig(channel=channel).destination if isinstance(channel, str) else None
    except ValidationError:
        ops_channel = None  # said once, by the field's own check
    platform = ops_channel.platform if ops_channel is not None else "console"
    if platform != "console" and not isinstance(raw.get(platform), dict):
        problems.append(say.ops_needs_platform(platform))
    return problems


_BOUNDS = (
    ("bot", BotSettings, "min_poll_interval", "max_poll_interval", ""),
    ("fetch", FetchSettings, "timeout", "deadline", ", the limit for the whole fetch"),
    ("fetch", FetchSettings, "backoff_base", "backoff_max", ""),
)


def _bound_problems(raw: dict[str, Any]) -> list[str]:
    """Every min/max pair in order, on the raw document (so they show beside field errors); a
    value that is no duration is reported by the field itself and skipped here."""
    problems = []
    for table, model, low_key, high_key, note in _BOUNDS:
        values = raw.get(table, {})
        values = values if isinstance(values, dict) else {}
        low = _duration_of(values, low_key, model.model_fields[low_key].default)
        high = _duration_of(values, high_key, model.model_fields[high_key].default)
        if low is not None and high is not None and low > high:
            default = "" if high_key in values else ", the default"
            problems.append(
                f"{table}.{low_key}: {_written(values, low_key, low)} is longer than "
                f"{table}.{high_key} ({_written(values, high_key, high)}{default}){note}: "
                f"make {low_key} at most {high_key}, or raise {high_key}"
            )
    sources = raw.get("sources", [])
    for i, source in enumerate(sources if isinstance(sources, list) else []):
        if not isinstance(source, dict) or "min_interval" not in source:
            continue
        low = _duration_of(source, "min_interval", None)
        high = _duration_of(source, "max_interval", None)
        if low is not None and high is not None and low > high:
            problems.append(
                f"sources[{i}].min_interval: {_written(source, 'min_interval', low)} is longer "
                f"than its max_interval ({_written(source, 'max_interval', high)}): make "
                "min_interval at most max_interval, or raise max_interval"
            )
    return problems


def _duration_of(values: dict[str, Any], key: str, default: Any) -> timedelta | None:
    if key not in values:
        return default if isinstance(default, timedelta) else None
    try:
        return parse_duration(values[key])
    except ValueError:
        return None


def _written(values: dict[str, Any], key: str, value: timedelta) -> str:
    """A duration as the file writes it (``'90s'``, ``'5m'``, ``'24h'``), for a default too."""
    if isinstance(values.get(key), str):
        return repr(values[key].strip())
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"'{seconds / size:g}{unit}'"
    return f"'{seconds:g}s'"


def _database_problems(raw: dict[str, Any], secrets: Secrets | None) -> list[str]:
    """The database location in force (TALKS_BOT_DATABASE_URL, else bot.database_url) must be
    one the store opens; shown only with its password masked."""
    from bot.store.url import accepted_schemes, normalise_url

    key, value = "bot.database_url", ""
    env = secrets.talks_bot_database_url if secrets is not None else None
    if env is not None and env.get_secret_value().strip():
        key, value = "TALKS_BOT_DATABASE_URL", env.get_secret_value()
    else:
        table = raw.get("bot", {})
        written = table.get("database_url", "") if isinstance(table, dict) else ""
        if not isinstance(written, str):
            return []  # a type error, reported by the field
        value = written
    if not value.strip():
        return []  # the default: sqlite:///talks-bot.db
    try:
        normalise_url(value)
    except StoreError as exc:
        return [f"{key}: {exc} (accepted schemes: {', '.join(accepted_schemes())})"]
    return []


def _credential_problems(config: Config, secrets: Secrets) -> list[str]:
    problems = []
    if config.bot.full_text and not all(
        importlib.util.find_spec(name) for name in ("trafilatura", "lxml_html_clean")
    ):
        problems.append(
            "bot.full_text: needs the article extractor: pip install 'talks-bot[fulltext]' "
            "(or set full_text = false)"
        )
    if config.slack is not None:
        if secrets.slack_bot_token is None:
            problems.append("slack: SLACK_BOT_TOKEN is not set: export it or put it in .env")
        if config.slack.mode == "socket" and secrets.slack_app_token is None:
            problems.append(
                "slack.mode: 'socket' needs SLACK_APP_TOKEN (an xapp- token): set it, "
                "or use mode = 'http' with SLACK_SIGNING_SECRET"
            )
        if config.slack.mode == "http" and secrets.slack_signing_secret is None:
            problems.append(
                "slack.mode: 'http' needs SLACK_SIGNING_SECRET to verify requests: set it"
            )
    if config.discord is not None and secrets.discord_token is None:
        problems.append("discord: DISCORD_TOKEN is not set: export it or put it in .env")
    return problems


_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it (unknown key: check the spelling against the README)",
    "literal_error": "",
    "greater_than_equal": "",
    "less_than_equal": "",
}


def _describe(exc: ValidationError) -> list[str]:
    """One line per pydantic error: ``key.path: what is wrong: the fix``."""
    lines = []
    errors = exc.errors(include_url=False)
    failed = [error["loc"] for error in errors]
    for error in errors:
        if error["type"] == "too_short" and any(
            other[: len(error["loc"])] == error["loc"] and other != error["loc"] for other in failed
        ):
            continue  # "terms: at least 1 item" only because its one item is itself wrong
        loc = _loc(error["loc"])
        kind = error["type"]
        message = str(error["msg"])
        if kind == "value_error":
            for part in message.removeprefix("Value error, ").split("\n"):
                lines.append(part if not loc else f"{loc}: {part}")
            continue
        if kind == "missing":
            lines.append(f"{loc}: required key is missing: add it")
            continue
        if kind == "extra_forbidden":
            lines.append(f"{loc}: {_FIXES[kind]}")
            continue
        value = error.get("input")
        if kind == "bool_type":
            lines.append(f"{loc}: {value!r} is not a boolean: write true or false, without quotes")
            continue
        shown = f" (got {value!r})" if not isinstance(value, dict | list) else ""
        lines.append(f"{loc}: {message[0].lower()}{message[1:]}{shown}: fix the value")
    return lines


def _loc(parts: tuple[int | str, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"function-after[_cross_checks()]"}:
            continue
        else:
            out += f".{part}" if out else str(part)
    return out
