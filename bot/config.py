"""Configuration: one TOML file for what the bot does, the environment for secrets.

``load_config`` reads and validates everything at once and raises ``ConfigError`` listing every
problem, each naming its key and the fix, so an operator fixes the file in one pass. Secrets (chat
tokens, a database URL with a password) come only from the environment or a ``.env`` file; a
secret written into the TOML file is itself a configuration error.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.core.duration import read_duration, written_seconds
from bot.core.models import Term, Topic
from bot.errors import ConfigError

DEFAULT_CONFIG = Path("config/default.toml")
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
    full_text: bool = False
    """Fetch the article page when a feed gives only a headline or a stub."""
    full_text_allow: tuple[str, ...] = ()
    """Hosts, IPs or CIDRs the article fetcher may reach even though they are private."""
    timezone: str = "UTC"
    status_top: int = Field(5, ge=1, le=20)


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
    aggregator: bool = False
    enabled: bool = True

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
    fuzzy: bool = True


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
    channel: str = "console"
    workspace: str = ""
    topics: tuple[str, ...] = ("*",)
    min_score: float | None = Field(None, ge=0, le=1)
    """Alert when a topic scores at least this; default: each topic's own min_score."""
    style: Literal["full", "compact"] = "full"
    digest: str = ""
    """Cron expression for a scheduled briefing to this route, e.g. "0 7,19 * * *"; empty: none."""
    push: Literal["developments", "all"] = "developments"
    """"developments": background (analysis, explainers, warnings) waits for the digest, or is
    pushed marked as background when the route has none; "all": everything is pushed."""

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

    guilds: tuple[int, ...] = ()
    sync: Literal["guild", "global"] = "guild"
    api_base_url: str = ""
    gateway_url: str = ""
    admin_roles: tuple[str, ...] = ()
    application_id: str = ""


class Config(_Strict):
    """The whole file."""

    bot: BotSettings = BotSettings()
    fetch: FetchSettings = FetchSettings()
    store: StoreSettings = StoreSettings()
    flood: FloodSettings = FloodSettings()
    sources: tuple[SourceConfig, ...] = ()
    topics: tuple[TopicConfig, ...] = ()
    routes: tuple[RouteConfig, ...] = (RouteConfig(),)
    slack: SlackConfig | None = None
    discord: DiscordConfig | None = None

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


def load_config(path: Path | str | None = None, *, env_file: str | None = ".env") -> Settings:
    """Read, validate and return the configuration; raise ConfigError listing every problem."""
    path = Path(path) if path else DEFAULT_CONFIG
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            [f"config file {path} not found: pass --config PATH or copy config/default.toml"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"config file {path} cannot be read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"config file {path} is not valid TOML: {exc}"]) from None

    problems = _secret_problems(raw)
    problems.extend(_include_topics(raw, path))
    flagged = {line.split(":", 1)[0] for line in problems}
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems.extend(line for line in _describe(exc) if line.split(":", 1)[0] not in flagged)
        config = None
    problems.extend(_cross_problems(raw))
    try:
        secrets = Secrets(_env_file=env_file)
    except ValidationError as exc:
        problems.extend(_describe(exc))
        secrets = None
    if config is not None and secrets is not None:
        problems.extend(_credential_problems(config, secrets))
    if problems or config is None or secrets is None:
        raise ConfigError(problems)
    return Settings(config=config, secrets=secrets, path=path)


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
        elif _SECRET_KEYS.search(key):
            problems.append(
                f"{where}: secrets do not belong in the config file: remove it and set the "
                f"environment variable instead (see config/.env.example)"
            )
        elif key == "database_url" and isinstance(value, str) and urlsplit(value).password:
            problems.append(
                f"{where}: this URL holds a password: remove it here and set "
                f"TALKS_BOT_DATABASE_URL in the environment or .env instead"
            )
    return problems


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
    return problems


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
    for error in exc.errors(include_url=False):
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
