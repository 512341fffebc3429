"""Small builders for store tests: realistic values, written for these tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.models import (
    Alert,
    Delivery,
    DeliveryStatus,
    Destination,
    SourceHealth,
    Story,
    StoryReport,
    TermMatch,
    TopicScore,
)

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
"""A Monday morning on the desk: every test's clock starts here."""

DESK = Destination(platform="slack", channel="C0DESK", workspace="T0NEWS")
EDITOR_DM = Destination(platform="slack", channel="U0EDITOR", workspace="T0NEWS", direct=True)
DISCORD = Destination(platform="discord", channel="1200", workspace="900")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def report(
    key: str,
    title: str,
    *,
    source: str = "wire",
    outlet: str = "Wire Service",
    minutes: float = 0,
    matched_key: str | None = None,
    similarity: float = 100.0,
    reason: str = "",
) -> StoryReport:
    return StoryReport(
        key=key,
        source=source,
        outlet=outlet,
        title=title,
        url=f"https://news.example/{source}/{key}",
        published=at(minutes),
        matched_key=matched_key,
        similarity=similarity,
        reason=reason,
    )


def rafah_score() -> TopicScore:
    return TopicScore(
        topic="rafah",
        score=0.82,
        matches=(
            TermMatch("Rafah", "Rafah", "title", 1.0, 100.0, 0.6),
            TermMatch("crossing", "crossing", "body", 0.5, 96.5, 0.22),
        ),
        outlets=2,
        source_weight=1.0,
        notes=("title hit Rafah +0.60", "body hit crossing +0.22"),
    )


def story(
    story_id: str,
    *reports: StoryReport,
    title: str | None = None,
    updated: float | None = None,
    scores: tuple[TopicScore, ...] = (),
) -> Story:
    first = reports[0] if reports else report("k0", "Untitled")
    last_minutes = (
        updated
        if updated is not None
        else max(((r.published - T0).total_seconds() / 60 for r in reports), default=0)
    )
    return Story(
        id=story_id,
        title=title or first.title,
        url=first.url,
        text="Negotiators met again in Cairo as mediators pressed both sides on a truce draft.",
        summary="Mediators in Cairo pressed both sides on a truce draft.",
        published=first.published,
        updated=at(last_minutes),
        reports=reports,
        scores=scores,
    )


def alert_for(s: Story) -> Alert:
    return Alert(
        story_id=s.id,
        title=s.title,
        url=s.url,
        summary=s.summary,
        outlets=s.outlets,
        published=s.published,
        topics=("rafah", "hostages"),
        score=0.82,
        matched_terms=("Rafah", "crossing"),
        why_hint="Rafah (headline), crossing (lead) · 2 outlets",
        mentions=("U0EDITOR",),
    )


def delivery(
    story_id: str,
    destination: Destination = DESK,
    *,
    status: str = "pending",
    created: float = 0,
    **changes: object,
) -> Delivery:
    values: dict[str, object] = {
        "story_id": story_id,
        "destination": destination,
        "status": DeliveryStatus(status),
        "created": at(created),
        "updated": at(created),
        "title": "Crossing at Rafah to reopen for aid convoys",
        "outlets": 1,
    }
    values.update(changes)
    return Delivery(**values)  # type: ignore[arg-type]


def source(name: str = "wire", **changes: object) -> SourceHealth:
    values: dict[str, object] = {"name": name, "url": f"https://feeds.example/{name}.xml"}
    values.update(changes)
    return SourceHealth(**values)  # type: ignore[arg-type]
