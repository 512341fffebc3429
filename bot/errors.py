"""A small hierarchy of errors, each carrying one line a person can act on."""

from __future__ import annotations

from collections.abc import Sequence


class TalksBotError(Exception):
    """Base: ``str(error)`` is one line saying what is wrong and what to do."""


class ConfigError(TalksBotError):
    """The configuration is invalid; ``problems`` lists every problem found, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems) if problems else "invalid configuration")


class FetchError(TalksBotError):
    """A source could not be fetched (network, HTTP status, limits)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FeedError(TalksBotError):
    """A fetched document could not be read as a feed."""


class StoreError(TalksBotError):
    """The database could not be reached or written."""

    def __init__(self, message: str, *, dropped: bool = False) -> None:
        super().__init__(message)
        self.dropped = dropped
        """The server closed or refused the session while starting up, shutting down or
        restarting (a failover, ``pg_terminate_backend``): trying again shortly can work, unlike
        a wrong password or database name."""


class DeliveryError(TalksBotError):
    """A chat platform refused or failed a message."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        unposted: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.unposted = unposted
        """The platform turned the message away before taking it (a rate limit): sending it
        again cannot make a second copy. False when unknown (a 5xx, a dropped connection)."""


class UserError(TalksBotError):
    """A chat command could not be carried out as typed (unknown topic, bad duration...).

    Raised by the command handlers; ``Commands.handle`` answers with ``str(error)`` (one line
    from ``bot.core.messages`` saying what is wrong and what to type instead) and offers
    ``suggestions``, the closest valid topics or commands.
    """

    def __init__(self, message: str, *, suggestions: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.suggestions = tuple(suggestions)
