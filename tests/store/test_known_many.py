"""Known reports of many sources in one read, and many sources' health saved in one: what a
live cycle asks of the store (both backends, the ``store`` fixture)."""

from __future__ import annotations

from bot.core.ports import PollRecord
from bot.store import SQLStore
from bot.store.sql import CHUNK
from tests.store.samples import at, report, source, story


async def test_known_reports_of_many_sources_come_back_by_source(store: SQLStore) -> None:
    wire = story("aaaa0001", report("g-1", "Cairo talks resume"), report("g-2", "Aid convoy"))
    agency = story("bbbb0002", report("g-1", "Agency: Cairo talks resume", source="agency"))
    await store.commit_poll(PollRecord(source=source(), stories=(wire, agency)))

    found = await store.known_reports_many(
        {"wire": ["g-1", "never-seen"], "agency": iter(["g-1", "g-2"]), "quiet": ["g-1"]}
    )

    assert found == {
        "wire": {"g-1": "Cairo talks resume"},
        "agency": {"g-1": "Agency: Cairo talks resume"},
    }
    assert await store.known_reports_many({}) == {}
    assert await store.known_reports_many({"wire": []}) == {}


async def test_known_reports_of_many_sources_past_one_statement(store: SQLStore) -> None:
    """More keys than one statement binds, over sources big and small, repeats included."""
    names = [f"desk{n}" for n in range(40)]
    stories = [
        story(f"s{n:04d}", *(report(f"k{i}", f"{name} note {i}", source=name) for i in range(30)))
        for n, name in enumerate(names)
    ]
    big = story("big00001", *(report(f"b{i}", f"Live {i}", source="live") for i in range(CHUNK)))
    await store.commit_poll(PollRecord(source=source(), stories=(*stories, big)))

    wanted = {name: [f"k{i}" for i in range(35)] + ["k0"] for name in names}
    wanted["live"] = [f"b{i}" for i in range(CHUNK + 10)]
    found = await store.known_reports_many(wanted)

    assert sorted(found) == sorted([*names, "live"])
    assert all(found[name] == {f"k{i}": f"{name} note {i}" for i in range(30)} for name in names)
    assert found["live"] == {f"b{i}": f"Live {i}" for i in range(CHUNK)}


async def test_many_sources_health_saved_at_once_keeps_what_ops_was_told(
    store: SQLStore,
) -> None:
    await store.save_sources([source("a"), source("b")])
    await store.save_announced("a", "quiet", at(0))

    await store.save_sources(
        [source("a", etag='"v2"', next_poll_after=at(5)), source("b", last_polled=at(1))]
    )

    a, b = await store.get_source("a"), await store.get_source("b")
    assert a is not None
    assert b is not None
    assert (a.etag, a.next_poll_after, a.announced, a.announced_at) == (
        '"v2"',
        at(5),
        "quiet",
        at(0),
    )
    assert b.last_polled == at(1)
