"""Optional: an article page's main text, for a richer lead than the feed gave.

Feed links are written by third parties, so fetching them is a server-side request forgery risk:
before every hop (the first URL and each redirect) the host is resolved and refused when any of its
addresses is loopback, private, link-local, multicast, reserved or a cloud metadata endpoint,
unless the operator allow-listed the host name, the address or its network. The request then
connects to the address that was checked, not to a second resolution of the name, so a DNS answer
that changes between the check and the connection (rebinding) cannot reach a private address.

The text extraction uses trafilatura, an optional extra (``pip install talks-bot[fulltext]``):
without it this returns None and logs a warning once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from bot.errors import FetchError
from bot.ingest.fetch import Fetcher

__all__ = ["AddressGuard", "fetch_article_text"]

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
_missing_warned = False


class AddressGuard:
    """Refuses URLs whose host resolves to a non-public address, except allow-listed ones.

    ``allow_private`` entries are host names (exact, case-insensitive), IP addresses or CIDR
    networks.
    """

    def __init__(self, allow_private: Sequence[str] = ()) -> None:
        self._hosts: set[str] = set()
        self._networks: list[IPNetwork] = []
        for entry in allow_private:
            text = entry.strip()
            try:
                self._networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                self._hosts.add(text.lower().rstrip("."))

    async def __call__(self, url: str) -> str | None:
        """Vet ``url``'s host; return the checked address to connect to (None: allow-listed
        by name, resolved by the client)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise FetchError(f"refused to fetch article at {url!r}: it has no host")
        if host.lower() in self._hosts:
            return None
        addresses = await _resolve(host, parts.port)
        for address in addresses:
            if _is_public(address) or self._allowed(address):
                continue
            raise FetchError(
                f"refused to fetch article at {host}: it resolves to a private address "
                "(allow it in config if intended)"
            )
        return str(addresses[0])

    def _allowed(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self._networks)


async def _resolve(host: str, port: int | None) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError(f"cannot resolve {host}: {error} (check the article url)") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        raw = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        addresses.append(ipaddress.ip_address(raw))
    if not addresses:
        raise FetchError(f"cannot resolve {host}: no addresses (check the article url)")
    return addresses


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in _METADATA:
        return False
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _load_trafilatura() -> Any | None:
    global _missing_warned
    try:
        import trafilatura
    except ImportError:
        if not _missing_warned:
            _missing_warned = True
            log.warning(
                "article full text is off: trafilatura is not installed "
                "(pip install 'talks-bot[fulltext]')"
            )
        return None
    return trafilatura


async def fetch_article_text(
    url: str, fetcher: Fetcher, *, allow_private: Sequence[str] = ()
) -> str | None:
    """The main text of the article at ``url``, or None when there is none to be had.

    Raises ``FetchError`` when the page cannot be fetched or its host is refused (see module doc);
    the fetcher's timeouts, deadline and size cap apply.
    """
    trafilatura = _load_trafilatura()
    if trafilatura is None:
        return None
    result = await fetcher.fetch(url, accept=_HTML_ACCEPT, guard=AddressGuard(allow_private))
    if not result.documents:
        return None
    document = result.documents[0]
    html = _decode(document.body, document.content_type)
    text = await asyncio.to_thread(
        trafilatura.extract, html, url=result.url, include_comments=False, include_tables=False
    )
    if not text or not str(text).strip():
        return None
    return str(text).strip()


def _decode(body: bytes, content_type: str | None) -> str:
    charset = None
    if content_type and "charset=" in content_type.lower():
        charset = content_type.lower().split("charset=", 1)[1].split(";", 1)[0].strip(" \"'")
    for name in (charset, "utf-8"):
        if not name:
            continue
        try:
            return body.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("cp1252", errors="replace")
