"""Storage: the ``Store`` port on SQLite or PostgreSQL (see ``sql.SQLStore``)."""

from bot.store.sql import SQLStore, open_store
from bot.store.url import describe_url

__all__ = ["SQLStore", "describe_url", "open_store"]
