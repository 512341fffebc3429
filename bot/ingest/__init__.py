"""Ingest: fetching feed documents (``fetch``) and reading them into raw items (``feeds``)."""
