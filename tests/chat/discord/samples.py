"""Alerts and digests written for these tests (invented headlines, not from any feed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bot.core.models import Alert, Digest

PUBLISHED = datetime(2024, 5, 6, 14, 30, tzinfo=UTC)


def alert(**changes: object) -> Alert:
    base = Alert(
        story_id="st-4f2a9c",
        title="Mediators say Cairo round on hostage release ends without deal",
        url="https://news.example.org/world/cairo-round-ends",
        summary=(
            "Egyptian and Qatari mediators said talks in Cairo on a phased hostage release "
            "adjourned late on Monday, with delegations expected back within days."
        ),
        outlets=("Wire One", "Daily Ledger", "Coast Radio", "Evening Post", "Metro 24"),
        published=PUBLISHED,
        topics=("hostages", "cairo-talks"),
        score=0.8123,
        matched_terms=("hostage", "Cairo"),
        why_hint="Hostages (headline), Cairo talks (lead) · 5 outlets",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def digest(count: int = 3, **changes: object) -> Digest:
    alerts = tuple(
        alert(
            story_id=f"st-{index:04d}",
            title=f"Rafah crossing update number {index}: aid lorries wait at the gate",
            url=f"https://news.example.org/rafah/{index}",
            outlets=("Wire One", "Daily Ledger"),
            topics=("rafah",),
        )
        for index in range(count)
    )
    base = Digest(id="dg-77a1", alerts=alerts, created=PUBLISHED, title="")
    return replace(base, **changes)  # type: ignore[arg-type]
