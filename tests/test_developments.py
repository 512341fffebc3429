"""A week of headline-only reports of one negotiation story, as an aggregator gives them.

Every headline says Gaza, Hamas, Israel, truce: the desk must push each development once,
merge outlets' rewordings of it, keep different developments that share those words apart,
and hold background for the route's digest. The headlines are written for this project
(tests/fixtures/talks_week.jsonl), after the patterns real aggregator feeds show.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import load_config
from bot.core.desk import Desk, DeskSettings
from bot.core.fingerprint import fingerprint, hard_veto
from bot.core.models import Alert, Destination, Report, SourceHealth
from bot.core.ports import PollRecord
from bot.core.route import Route
from bot.core.tier import Tier, report_tier
from bot.courier import Courier
from bot.poller import take
from bot.store import SQLStore
from tests.core.helpers import RecordingPlatform

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
TOPICS = load_config(ROOT / "config" / "default.toml", env_file=None).config.topic_models
DESK = Destination("console", "desk")
WEEK = [
    json.loads(line)
    for line in (ROOT / "tests" / "fixtures" / "talks_week.jsonl").read_text("utf-8").splitlines()
    if line.strip()
]


@dataclass
class Run:
    pushes: list[Alert]
    digests: list[Alert]
    updates: list[Alert]
    development_of: dict[str, str]
    """Story id -> the development of the report that started it."""

    def pushed(self, development: str) -> list[Alert]:
        return [a for a in self.pushes if self.development_of.get(a.story_id) == development]


def reports() -> list[Report]:
    out = []
    for i, row in enumerate(WEEK):
        outlet = row["outlet"]
        out.append(
            Report(
                key=f"w{i:02d}",
                source=outlet.lower().replace(" ", "-"),
                outlet=outlet,
                title=row["title"],
                url=f"https://{outlet.lower().replace(' ', '')}.example/{i}",
                text="",
                published=T0 + timedelta(hours=row["hour"], minutes=i),
                first_seen=T0,
            )
        )
    return out


async def run_week(store: SQLStore, route: Route) -> Run:
    """The week through the desk one hour of reports at a time, the courier after each."""
    desk = Desk(TOPICS, [route], DeskSettings())
    platform = RecordingPlatform()
    courier = Courier(store, {"console": platform}, lambda: T0 + timedelta(days=9))
    by_hour: dict[int, list[Report]] = defaultdict(list)
    for row, rep in zip(WEEK, reports(), strict=True):
        by_hour[row["hour"]].append(rep)
    development_of: dict[str, str] = {}
    development_by_key = {f"w{i:02d}": row["development"] for i, row in enumerate(WEEK)}
    for hour in sorted(by_hour):
        outcome = await take(desk, store, by_hour[hour], now_of=lambda r: r.published)
        for decision in outcome.decisions:
            development_of.setdefault(decision.story_id, development_by_key[decision.report.key])
        await store.commit_poll(
            PollRecord(
                SourceHealth("week", "file:///week"),
                tuple(outcome.stories.values()),
                tuple(outcome.deliveries.values()),
            )
        )
        await courier.run_once()
    await courier.run_once(flush_digests=True)
    return Run(
        pushes=[a for _d, a in platform.sent],
        digests=[a for _d, digest in platform.digests for a in digest.alerts],
        updates=[a for _d, _m, a in platform.updated],
        development_of=development_of,
    )


BACKGROUND = {"explainer-deal", "opinion-coalition", "photos-return", "analysis-longer", "vigil"}
OFF_TOPIC = {"aid-north", "strikes-central", "khan-younis-rubble"}


async def test_every_development_is_pushed_and_background_waits_for_the_digest(
    store: SQLStore,
) -> None:
    run = await run_week(store, Route(DESK, digest_cron="0 7,19 * * *"))
    developments = {row["development"] for row in WEEK} - BACKGROUND - OFF_TOPIC - {"un-lasting"}
    missing = {d for d in developments if not run.pushed(d)}
    assert not missing, f"developments never pushed: {missing}"
    for background in BACKGROUND | {"un-lasting"}:
        assert not run.pushed(background), background
    waited = {run.development_of[a.story_id] for a in run.digests}
    assert BACKGROUND | {"un-lasting"} <= waited, "background is held, never dropped"
    assert all(a.tier == "background" for a in run.digests)


async def test_rewordings_update_in_place_and_different_developments_stay_apart(
    store: SQLStore,
) -> None:
    run = await run_week(store, Route(DESK, digest_cron="0 7,19 * * *"))
    # The cabinet vote, reworded by three outlets: at most one extra push, and it says so.
    for development in ("cabinet-approves", "collapse", "extension-1"):
        pushed = run.pushed(development)
        assert 1 <= len(pushed) <= 2, (development, [a.title for a in pushed])
        if len(pushed) == 2:
            assert pushed[1].follows_title == pushed[0].title, development
    # A release "as talks seek to extend the truce" is not the extension, and the envoys'
    # push to revive the truce is not its collapse: each gets its own push.
    (release,) = run.pushed("release-5")
    assert release.title.startswith("Hamas hands over nine captives")
    (revive,) = run.pushed("revive-push")
    assert "revive" in revive.title
    # The later rewordings of the collapse reached the desk as edits, not pushes.
    collapse_ids = {a.story_id for a in run.pushed("collapse")}
    assert any(a.story_id in collapse_ids and len(a.outlets) >= 2 for a in run.updates)


async def test_without_a_digest_background_is_pushed_marked_and_push_all_marks_it_too(
    store: SQLStore,
) -> None:
    run = await run_week(store, Route(DESK))
    marked = [a for a in run.pushes if run.development_of[a.story_id] in BACKGROUND]
    assert {run.development_of[a.story_id] for a in marked} == BACKGROUND
    assert all(a.tier == "background" for a in marked)
    assert not run.digests


async def test_push_all_pushes_background_even_with_a_digest(store: SQLStore) -> None:
    run = await run_week(store, Route(DESK, digest_cron="0 7 * * *", push="all"))
    assert {run.development_of[a.story_id] for a in run.pushes} >= BACKGROUND
    assert not run.digests


@pytest.mark.parametrize(
    ("title", "outlet", "tier"),
    [
        ("Analysis: what the truce extension means for Rafah", "", Tier.BACKGROUND),
        ("Opinion | The hostage deal will not hold", "", Tier.BACKGROUND),
        ("What we know about the captives still in Gaza", "", Tier.BACKGROUND),
        ("Can the truce survive another week?", "", Tier.BACKGROUND),
        ("MSF: hospitals in Rafah cannot take more wounded", "", Tier.BACKGROUND),
        ("Gaza: civilians must be protected in Rafah", "Save the Children", Tier.BACKGROUND),
        ("Families of hostages hold a vigil as they wait for news", "", Tier.BACKGROUND),
        ("Moment a freed captive meets her brother at the border", "", Tier.BACKGROUND),
        ("Thursday Briefing: Waiting for the truce vote", "", Tier.BACKGROUND),
        ("Cabinet backs the truce: Here’s what’s to know", "", Tier.BACKGROUND),
        ("Gaza truce: Palestinians sift through the ruins of their street", "", Tier.BACKGROUND),
        ("‘Nowhere else to go’: displaced Gazans in Rafah dread the assault", "", Tier.BACKGROUND),
        (
            "Families of the captives tour three capitals to keep their names heard",
            "",
            Tier.BACKGROUND,
        ),
        ("Norway welcomes the extension of the Gaza pause", "", Tier.BACKGROUND),
        ("Calls to spare Rafah grow louder in European capitals", "", Tier.BACKGROUND),
        (
            "Palestinians gather at the Rafah crossing, Egypt opens it for the wounded",
            "",
            Tier.DEVELOPMENT,
        ),
        ("The truce buys time, not peace | Dana Whitcombe", "", Tier.BACKGROUND),
        ("I waited 50 days for my brother to come home", "", Tier.BACKGROUND),
        ("Hamas hands over ten captives | Israel-Palestine conflict News", "", Tier.DEVELOPMENT),
        ("Qatar welcomes Hamas reply and sends it to Israel", "", Tier.DEVELOPMENT),
        ("Hundreds flee Rafah as Israeli tanks move in", "", Tier.DEVELOPMENT),
        ("Red Cross receives twelve hostages at the Rafah crossing", "", Tier.DEVELOPMENT),
        ("Families of hostages meet the prime minister before the vote", "", Tier.DEVELOPMENT),
        ("Hamas delegation arrives in Cairo for a new round", "", Tier.DEVELOPMENT),
        ("Israel rejects Hamas terms, says the offensive will go on", "", Tier.DEVELOPMENT),
        (
            "Heartbreaking moment a freed girl runs to her father at the kibbutz",
            "",
            Tier.BACKGROUND,
        ),
        ("Truce leaves Hamas weaker than it looks: analysts", "", Tier.BACKGROUND),
        ("The pause is a trap for Israel, says a former general", "", Tier.DEVELOPMENT),
        ("The pause is a trap for Israel: Former army chief", "", Tier.BACKGROUND),
        ("Envoys brief reporters in Doha: Watch live", "", Tier.BACKGROUND),
        ("Here are the names of the captives freed on Sunday", "", Tier.BACKGROUND),
        ("Truce holds, markets rally and more top headlines", "", Tier.BACKGROUND),
        ("First Thing: swap delayed over the list of names", "", Tier.BACKGROUND),
        ("Israeli troops watch as aid lorries cross at Kerem Shalom", "", Tier.DEVELOPMENT),
    ],
)
def test_what_deserves_a_push_is_read_from_the_headline_form(
    title: str, outlet: str, tier: Tier
) -> None:
    assert report_tier(title, outlet)[0] is tier


def test_counts_and_ranks_are_different_numbers() -> None:
    """ "33 freed on the fourth day" and "33 Palestinians and 11 Israelis freed" report one swap;
    the fourth day's swap and the fifth day's do not."""
    one = fingerprint("33 Palestinian prisoners freed on the fourth day of the truce")
    same = fingerprint("33 Palestinians and 11 Israelis freed in the latest swap")
    other = fingerprint("More prisoners freed on the fifth day of the truce")
    assert hard_veto(one, same) == ""
    assert hard_veto(one, other) == "ranks differ"


def test_seeking_or_expecting_an_event_is_not_the_event() -> None:
    done = fingerprint("Gaza truce extended by another day")
    sought = fingerprint("Mediators seek to extend the Gaza truce by another day")
    due = fingerprint("Truce set to begin on Friday morning")
    begun = fingerprint("Truce begins in Gaza")
    agreed = fingerprint("Israel and Hamas agree to extend the truce by another day")
    assert hard_veto(done, sought) == "extend: expected vs done"
    assert hard_veto(due, begun) == "start: expected vs done"
    assert hard_veto(done, agreed) == "", "agreeing to extend is the extension"
