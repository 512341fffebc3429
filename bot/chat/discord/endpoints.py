"""Where discord.py sends REST calls and opens the gateway: Discord itself unless configured.

discord.py keeps both addresses in class attributes, so they are process-wide:

* REST: every request URL is ``discord.http.Route.BASE + path`` (webhooks and interaction
  callbacks included). ``Route`` is instantiated by the library itself, so a subclass would
  not be used: the attribute on ``Route`` is what must change.
* Gateway: a plain ``discord.Client`` does not ask ``GET /gateway/bot``; it connects to
  ``DiscordWebSocket.DEFAULT_GATEWAY`` and afterwards to the ``resume_gateway_url`` of READY.

One Discord connection per process is the supported shape; ``restore_defaults`` puts Discord's
addresses back (tests use it between fake servers).
"""

from __future__ import annotations

import discord.gateway
import discord.http
import yarl

from bot.errors import ConfigError

DISCORD_API_BASE = discord.http.Route.BASE
DISCORD_GATEWAY = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


def check_api_base(url: str) -> str:
    """The REST base without a trailing slash, e.g. ``https://discord.com/api/v10``."""
    parsed = yarl.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(
            [
                f"discord.api_base_url = {url!r} is not an http(s) URL: use e.g. "
                "'https://discord.com/api/v10' or remove the key"
            ]
        )
    return url.rstrip("/")


def check_gateway(url: str) -> yarl.URL:
    parsed = yarl.URL(url)
    if parsed.scheme not in ("ws", "wss") or not parsed.host:
        raise ConfigError(
            [
                f"discord.gateway_url = {url!r} is not a ws(s) URL: use e.g. "
                "'wss://gateway.discord.gg/' or remove the key"
            ]
        )
    return parsed


def use_api_base(url: str | None) -> None:
    discord.http.Route.BASE = check_api_base(url) if url else DISCORD_API_BASE


def use_gateway(url: str | yarl.URL | None) -> None:
    if isinstance(url, str):
        url = check_gateway(url)
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = url or DISCORD_GATEWAY


def restore_defaults() -> None:
    use_api_base(None)
    use_gateway(None)
