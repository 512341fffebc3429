"""Deduplication as the desk sees it: one story per development, never alerted twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.dedup import DedupSettings, StoryIndex, story_id_for
from bot.core.fingerprint import fingerprint
from bot.core.models import Report, Verdict

T0 = datetime(2023, 11, 20, 8, 0, tzinfo=UTC)

ARRIVE_LEAD = (
    "A Hamas delegation arrived in Cairo on Monday for talks with Egyptian mediators on a truce "
    "and the release of hostages held in Gaza, two Egyptian security sources said."
)


def report(
    key: str,
    title: str,
    text: str = "",
    *,
    source: str = "wire",
    outlet: str = "Wire",
    url: str | None = None,
    hours: float = 0.0,
) -> Report:
    when = T0 + timedelta(hours=hours)
    return Report(
        key=key,
        source=source,
        outlet=outlet,
        title=title,
        url=f"https://{source}.example/{key}" if url is None else url,
        text=text,
        published=when,
        first_seen=when,
    )


def test_syndicated_copy_under_another_url_attaches_not_alerts() -> None:
    index = StoryIndex()
    first, story = index.add(report("a1", "Hamas delegation arrives in Cairo for truce talks"))
    copy = report(
        "p9", "Hamas delegation arrives in Cairo for truce talks", source="paper", hours=0.5
    )
    decision, joined = index.add(copy)
    assert first.verdict is Verdict.NEW
    assert decision.verdict is Verdict.ATTACHED
    assert decision.story_id == story.id == joined.id
    assert decision.matched_key == "a1"
    assert decision.similarity == pytest.approx(100.0)
    assert len(index) == 1


def test_reheadlined_report_under_same_guid_is_updated_not_a_new_story() -> None:
    index = StoryIndex()
    _, story = index.add(report("a1", "Hamas delegation arrives in Cairo"))
    decision, updated = index.add(
        report("a1", "Hamas delegation arrives in Cairo for truce, hostage talks", hours=1)
    )
    assert decision.verdict is Verdict.UPDATED
    assert decision.story_id == story.id
    assert updated.title == "Hamas delegation arrives in Cairo for truce, hostage talks"
    assert len(updated.reports) == 1
    assert len(index) == 1


def test_unchanged_report_seen_again_is_repeat() -> None:
    index = StoryIndex()
    item = report("a1", "Qatar says Gaza truce extended by two days", "Lead text of the report.")
    index.add(item)
    decision, story = index.add(replace(item, first_seen=T0 + timedelta(hours=2)))
    assert decision.verdict is Verdict.REPEAT
    assert len(story.reports) == 1


def test_changed_lead_under_same_guid_is_updated() -> None:
    index = StoryIndex()
    item = report("a1", "Qatar says Gaza truce extended by two days", "First version of the lead.")
    index.add(item)
    decision, story = index.add(replace(item, text="Second, corrected version of the lead."))
    assert decision.verdict is Verdict.UPDATED
    assert story.text == "Second, corrected version of the lead."


def test_other_outlets_rewording_with_lead_attaches() -> None:
    index = StoryIndex()
    _, story = index.add(
        report(
            "a1",
            "Israeli cabinet approves deal to free 50 hostages",
            "Israel's cabinet approved a deal early on Wednesday under which 50 women and "
            "children held hostage in Gaza would be freed during a four-day truce.",
        )
    )
    decision, _ = index.add(
        report(
            "m7",
            "Israel's cabinet backs deal for release of 50 hostages",
            "Israel's government approved early on Wednesday a deal for the release of 50 women "
            "and children held hostage in Gaza in exchange for a four-day truce.",
            source="morning",
            outlet="Morning Star",
            hours=0.7,
        )
    )
    assert decision.verdict is Verdict.ATTACHED
    assert decision.story_id == story.id
    assert "headline" in decision.reason


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(
            "Hamas delegation arrives in Cairo for truce talks",
            "Hamas delegation leaves Cairo as talks stall",
            id="arrives-then-leaves",
        ),
        pytest.param(
            "Israel says 3 hostages freed",
            "Israel says 13 hostages freed in second swap",
            id="different-counts",
        ),
        pytest.param(
            "Rafah crossing opens to let aid trucks into Gaza",
            "Rafah crossing closes to aid trucks into Gaza",
            id="opens-then-closes",
        ),
        pytest.param(
            "Qatar says hostage deal reached between Israel and Hamas",
            "Israel denies hostage deal reached between Israel and Hamas",
            id="claim-then-denial",
        ),
        pytest.param(
            "Israeli forces kill four in West Bank raid on Jenin",
            "Israeli forces kill four in West Bank raid on Tulkarm",
            id="different-places",
        ),
        pytest.param(
            "Truce talks resume in Doha with Qatari mediators",
            "Truce talks suspended in Doha with Qatari mediators",
            id="resume-then-suspend",
        ),
    ],
)
def test_new_development_on_same_subject_is_a_new_story(first: str, second: str) -> None:
    index = StoryIndex()
    _, story = index.add(report("a1", first))
    decision, other = index.add(report("b1", second, source="other", hours=3))
    assert decision.verdict is Verdict.NEW
    assert other.id != story.id
    assert len(index) == 2


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Israel says 13 hostages freed", "Israel says 14 hostages freed"),
        ("Quake kills 128 in western Nepal", "Quake kills 157 in western Nepal"),
        ("UK inflation falls to 4.6%", "UK inflation falls to 4.8%"),
        ("Truce extended by two days", "Truce extended by three days"),
    ],
)
def test_differing_numbers_keep_stories_apart(first: str, second: str) -> None:
    index = StoryIndex()
    index.add(report("a1", first))
    decision, _ = index.add(report("b1", second, source="other", hours=1))
    assert decision.verdict is Verdict.NEW


@pytest.mark.parametrize(
    ("gap_hours", "window_hours", "verdict"),
    [
        (47, 48, Verdict.ATTACHED),
        (49, 48, Verdict.NEW),
        (25, 24, Verdict.NEW),
        (-30, 48, Verdict.ATTACHED),  # an older report replayed late still finds its story
    ],
)
def test_window_is_measured_in_report_time_not_wall_clock(
    gap_hours: float, window_hours: float, verdict: Verdict
) -> None:
    index = StoryIndex(DedupSettings(window=timedelta(hours=window_hours)))
    index.add(report("a1", "Hamas delegation arrives in Cairo for truce talks"))
    decision, _ = index.add(
        report(
            "b1",
            "Hamas delegation arrives in Cairo for truce talks",
            source="paper",
            hours=gap_hours,
        )
    )
    assert decision.verdict is verdict


def test_same_canonical_url_attaches_whatever_the_headline() -> None:
    index = StoryIndex()
    _, story = index.add(report("a1", "Storm hits coast", url="https://example.org/live/storm"))
    decision, _ = index.add(
        report(
            "z5",
            "Thousands without power as gales batter the coast",
            source="aggregator",
            url="https://example.org/live/storm",
            hours=2,
        )
    )
    assert decision.verdict is Verdict.ATTACHED
    assert decision.reason == "same url"
    assert decision.story_id == story.id
    assert decision.matched_key == "a1"


def test_outlets_grow_as_other_outlets_report_the_development() -> None:
    index = StoryIndex()
    title = "Qatar says Gaza truce extended by two days"
    index.add(report("a1", title, outlet="Wire A", source="a"))
    index.add(report("b1", title, outlet="Daily Herald", source="b", hours=0.2))
    _, story = index.add(
        report("c1", title + ", officials say", outlet="Gulf", source="c", hours=1)
    )
    index.add(report("a2", title, outlet="Wire A", source="a", hours=1.5))
    final = index.get(story.id)
    assert final is not None
    assert final.outlets == ("Wire A", "Daily Herald", "Gulf")
    assert len(final.reports) == 4
    assert final.published == T0
    assert final.updated == T0 + timedelta(hours=1.5)


def test_best_headline_is_the_informative_one_not_a_live_label_or_stub() -> None:
    index = StoryIndex()
    _, story = index.add(report("a1", "LIVE: Hamas delegation arrives in Cairo"))
    informative = "Hamas delegation arrives in Cairo for truce talks, Egyptian sources say"
    index.add(report("b1", informative, ARRIVE_LEAD, source="b", url="https://b.example/1"))
    index.add(report("c1", "Hamas delegation arrives in Cairo", source="c", hours=1))
    final = index.get(story.id)
    assert final is not None
    assert len(final.reports) == 3
    assert final.title == informative
    assert final.url == "https://b.example/1"
    assert final.text == ARRIVE_LEAD


def test_best_headline_stays_put_when_only_slightly_longer_one_arrives() -> None:
    index = StoryIndex()
    _, story = index.add(report("a1", "Qatar says Gaza truce extended by two days"))
    index.add(report("b1", "Qatar says Gaza truce extended by two more days", source="b"))
    final = index.get(story.id)
    assert final is not None
    assert final.title == "Qatar says Gaza truce extended by two days"


def test_summary_and_scores_survive_dedup() -> None:
    index = StoryIndex()
    _, story = index.add(report("a1", "Qatar says Gaza truce extended by two days"))
    index.load([replace(story, summary="Truce extended.")])
    _, joined = index.add(report("b1", "Qatar says Gaza truce extended by two days", source="b"))
    assert joined.summary == "Truce extended."


STREAM = [
    report("a1", "Hamas delegation arrives in Cairo for truce talks", ARRIVE_LEAD),
    report("b1", "Hamas delegation arrives in Cairo for truce talks", ARRIVE_LEAD, source="b"),
    report("c1", "Rafah crossing opens to let aid trucks into Gaza", source="c", hours=1),
    report("a2", "Hamas delegation leaves Cairo as talks stall", hours=30),
    report(
        "a1", "Hamas delegation arrives in Cairo for truce, hostage talks", ARRIVE_LEAD, hours=2
    ),
    report("d1", "Rafah crossing opens for aid trucks entering Gaza", source="d", hours=3),
    report("e1", "Israel says 13 hostages freed in first swap", source="e", hours=40),
    report("e2", "Israel says 13 hostages freed in first swap", source="f", hours=41),
    report("c1", "Rafah crossing opens to let aid trucks into Gaza", source="c", hours=1),
    report("g1", "Israel says 17 hostages freed in second swap", source="g", hours=60),
]


def decisions(index: StoryIndex, reports: list[Report]) -> list[tuple[str, str, str | None]]:
    return [
        (d.verdict.value, d.story_id, d.matched_key) for d, _ in (index.add(r) for r in reports)
    ]


def test_same_reports_in_same_order_give_same_stories_and_decisions() -> None:
    assert decisions(StoryIndex(), STREAM) == decisions(StoryIndex(), STREAM)


def test_load_then_add_behaves_as_if_never_restarted() -> None:
    live = StoryIndex()
    before = decisions(live, STREAM[:5])
    restarted = StoryIndex()
    stored = {d[1]: live.get(d[1]) for d in before}
    restarted.load(s for s in stored.values() if s is not None)
    assert len(restarted) == len(live)
    assert decisions(restarted, STREAM[5:]) == decisions(live, STREAM[5:])


def test_expire_forgets_stories_older_than_window_and_counts_them() -> None:
    index = StoryIndex(DedupSettings(window=timedelta(hours=24)))
    _, old = index.add(report("a1", "Rafah crossing opens to let aid trucks into Gaza"))
    _, recent = index.add(report("b1", "Israel says 13 hostages freed", source="b", hours=20))
    assert index.expire(T0 + timedelta(hours=30)) == 1
    assert len(index) == 1
    assert index.get(old.id) is None
    assert index.get(recent.id) is not None
    decision, _ = index.add(report("a1", "Rafah crossing opens to let aid trucks into Gaza"))
    assert decision.verdict is Verdict.NEW  # forgotten: a fresh story...
    assert decision.story_id == old.id  # ...under the same deterministic id


def test_story_id_is_short_stable_hex_of_source_and_key() -> None:
    item = report("a1", "Any headline")
    assert story_id_for(item) == story_id_for(replace(item, title="Another headline"))
    assert story_id_for(item) != story_id_for(replace(item, source="other"))
    assert len(story_id_for(item)) == 10
    int(story_id_for(item), 16)


def test_new_story_decision_says_what_it_was_nearest_to() -> None:
    index = StoryIndex()
    index.add(report("a1", "Hamas delegation arrives in Cairo for truce talks"))
    decision, _ = index.add(report("b1", "Hamas delegation leaves Cairo as talks stall", hours=1))
    assert decision.verdict is Verdict.NEW
    assert decision.matched_key is None
    assert "a1" in decision.reason
    assert "leave" in decision.reason


def test_new_story_ruled_out_by_numbers_still_names_its_nearest_with_both_likenesses() -> None:
    index = StoryIndex()
    lead = "Hamas freed the hostages on Monday, the fourth day of the truce, Qatar said in Doha."
    index.add(report("a1", "Hamas frees 24 hostages on fourth day of Gaza truce", lead))
    decision, _ = index.add(
        report("b1", "Hamas frees 17 hostages on fourth day of Gaza truce", lead, hours=1)
    )
    assert decision.verdict is Verdict.NEW
    assert decision.reason.startswith("nearest a1: headline ")
    assert ", lead 100" in decision.reason
    assert decision.reason.endswith("(numbers differ)")
    assert decision.similarity == 0.0


# -- headline-only rewordings, weighed by how rare the shared words are -------------------------

_PLACES = ["Leeds", "Lyon", "Porto", "Gdansk", "Bergen", "Malaga", "Utrecht", "Graz", "Turin"]
_SUBJECTS = ["council", "hospital", "airport", "university", "museum", "port", "railway"]
_CLAIMS = ["unveils budget for", "delays vote on", "hires chief for", "faces strike over"]
_THINGS = ["housing", "cycling lanes", "night buses", "flood defences", "school meals"]


def busy_index() -> StoryIndex:
    """An index whose window already holds plenty of unrelated local news, as on a live desk:
    word rarity only counts once the window can tell rare words from common ones."""
    index = StoryIndex()
    n = 0
    for place in _PLACES:
        for subject in _SUBJECTS:
            for claim in _CLAIMS:
                thing = _THINGS[n % len(_THINGS)]
                index.add(
                    report(
                        f"bg{n}", f"{place} {subject} {claim} {thing}", source="local", hours=-30
                    )
                )
                n += 1
    return index


def test_aggregator_headline_sharing_rare_names_attaches_in_busy_window() -> None:
    index = busy_index()
    held = len(index)
    _, story = index.add(
        report("a1", "Israel reopens Kerem Shalom crossing for Gaza aid deliveries")
    )
    decision, joined = index.add(
        report(
            "g7",
            "Aid trucks roll through reopened Kerem Shalom crossing into Gaza",
            source="news-agg",
            outlet="Levant Desk",
            hours=1,
        )
    )
    assert decision.verdict is Verdict.ATTACHED
    assert decision.story_id == story.id
    assert "rare words" in decision.reason
    assert joined.outlets == ("Wire", "Levant Desk")
    assert len(index) == held + 1


def test_same_headline_template_about_different_companies_stays_apart_in_busy_window() -> None:
    index = busy_index()
    index.add(report("a1", "Pizza chain Rossini files for bankruptcy protection"))
    decision, _ = index.add(
        report("b1", "Crypto exchange Veltrix files for bankruptcy protection", source="b", hours=1)
    )
    assert decision.verdict is Verdict.NEW


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(
            "Qatar PM says hostage talks making progress",
            "Qatar PM says hostage talks have stalled",
            id="progress-then-stall",
        ),
        pytest.param(
            "Egypt floats plan to end Gaza war",
            "Hamas turns down Egyptian plan to end Gaza war",
            id="plan-then-turned-down",
        ),
        pytest.param(
            "Hamas delays second hostage release, citing aid violations",
            "17 hostages freed in second swap after delay",
            id="delayed-then-freed",
        ),
    ],
)
def test_later_turn_of_same_talks_is_a_new_story_even_in_busy_window(
    first: str, second: str
) -> None:
    index = busy_index()
    index.add(report("a1", first))
    decision, _ = index.add(report("b1", second, source="other", hours=3))
    assert decision.verdict is Verdict.NEW


def test_story_does_not_drift_through_a_neutral_member_to_the_opposite_event() -> None:
    index = StoryIndex()
    _, story = index.add(report("a1", "Hamas delegation arrives in Cairo for truce talks"))
    neutral, _ = index.add(
        report("b1", "Hamas delegation in Cairo for truce talks", source="b", hours=1)
    )
    decision, _ = index.add(
        report("c1", "Hamas delegation leaves Cairo after truce talks", source="c", hours=5)
    )
    assert neutral.story_id == story.id
    assert decision.verdict is Verdict.NEW


# -- the story's lead and link ------------------------------------------------------------------


def test_real_lead_replaces_aggregators_empty_lead_even_when_headline_stays() -> None:
    index = StoryIndex()
    first = "Hamas delegation arrives in Cairo for truce talks, Egyptian sources say"
    _, story = index.add(report("g1", first, source="news-agg", url="https://agg.example/1"))
    index.add(report("w1", "Hamas delegation arrives in Cairo", ARRIVE_LEAD, hours=0.5))
    final = index.get(story.id)
    assert final is not None
    assert final.title == first
    assert final.url == "https://agg.example/1"
    assert final.text == ARRIVE_LEAD


def test_stub_lead_of_a_better_headline_does_not_replace_a_real_lead() -> None:
    index = StoryIndex()
    _, story = index.add(report("w1", "Hamas delegation arrives in Cairo", ARRIVE_LEAD))
    better = "Hamas delegation arrives in Cairo for truce talks, Egyptian sources say"
    index.add(
        report("l1", better, "Follow our live coverage.", source="live", url="https://l.example/9")
    )
    final = index.get(story.id)
    assert final is not None
    assert final.title == better
    assert final.url == "https://l.example/9"
    assert final.text == ARRIVE_LEAD


def test_same_specific_headline_over_different_leads_attaches() -> None:
    """Wire copy carried by two outlets, each writing its own lead, is one development."""
    index = StoryIndex()
    _d, story = index.add(
        report(
            "r1",
            "Israeli cabinet backs hostage deal with Hamas after overnight session",
            ARRIVE_LEAD,
        )
    )
    decision, _s = index.add(
        report(
            "c7",
            "Israeli cabinet backs hostage deal with Hamas after overnight session",
            "Ministers voted in the early hours after Prime Minister Netanyahu told them the "
            "agreement was the right decision, officials in Jerusalem said on Wednesday.",
            source="paper",
            hours=1,
        )
    )
    assert decision.verdict is Verdict.ATTACHED
    assert decision.story_id == story.id


def test_a_lead_that_only_repeats_the_headline_does_not_block_a_match() -> None:
    """Many feeds repeat the headline as the description: that is no lead to compare."""
    index = StoryIndex()
    title = "Qatar says first hostages to be freed on Friday morning"
    _d, story = index.add(report("q1", title, title))
    decision, _s = index.add(
        report(
            "q2",
            "Hostages to be freed from Friday morning as Gaza truce starts, says Qatar",
            "Officials in Doha gave details of the arrangement late on Thursday, after weeks of "
            "shuttle diplomacy involving American and Egyptian intelligence chiefs.",
            source="other",
            hours=0.5,
        )
    )
    assert decision.verdict is Verdict.ATTACHED
    assert decision.story_id == story.id


def test_generic_identical_headlines_with_different_leads_stay_apart() -> None:
    """A short generic headline ("Live updates") is not a development by itself."""
    index = StoryIndex()
    index.add(report("l1", "Israel-Hamas war live updates", ARRIVE_LEAD))
    decision, _s = index.add(
        report(
            "l2",
            "Israel-Hamas war live updates",
            "Israeli tanks pushed into the eastern edge of Khan Younis overnight as aid trucks "
            "queued at the Kerem Shalom crossing, witnesses said.",
            source="other",
            hours=2,
        )
    )
    assert decision.verdict is Verdict.NEW


def test_reworded_headlines_that_agree_attach_whatever_their_leads_say() -> None:
    """Two outlets paraphrase one release in the headline and write leads that share no angle:
    leads worded apart are no evidence against headlines that agree."""
    index = StoryIndex()
    _d, story = index.add(
        report(
            "h1",
            "Hamas frees three elderly hostages held in Gaza through Red Cross handover",
            "Three women in their seventies were driven to the Kerem Shalom crossing on Tuesday "
            "evening and taken to a hospital near Tel Aviv, the Israeli military said.",
        )
    )
    decision, _s = index.add(
        report(
            "h2",
            "Three elderly Israeli hostages freed by Hamas, handed to Red Cross in Gaza",
            "Footage aired by a Qatari broadcaster showed masked fighters escorting the captives "
            "to white vehicles before dusk, as crowds gathered in the street.",
            source="paper",
            hours=1,
        )
    )
    assert decision.verdict is Verdict.ATTACHED
    assert decision.story_id == story.id


def test_headlines_told_apart_by_a_place_stay_apart_over_leads_that_agree() -> None:
    """The guards still decide when the leads are set aside: vigils in two towns are two events."""
    index = StoryIndex()
    lead = "Relatives of captives held in Gaza gathered at dusk to demand a deal from both sides."
    index.add(report("v1", "Hostage families in Rafah urge both sides to seal the deal", lead))
    decision, _s = index.add(
        report(
            "v2",
            "Hostage families in Nuseirat urge both sides to seal the deal",
            lead,
            source="paper",
            hours=1,
        )
    )
    assert decision.verdict is Verdict.NEW


def test_dotted_and_undotted_acronyms_are_one_word() -> None:
    """ "C.I.A." and "CIA" are the same agency, and "U.S." is the country, not a dropped "us":
    two outlets spelling them apart must still be seen telling one development."""
    index = StoryIndex()
    _, story = index.add(report("n1", "C.I.A. chief lands in Doha for talks on freeing captives"))
    decision, _ = index.add(
        report(
            "w4", "CIA chief lands in Doha for talks on freeing captives", source="other", hours=0.5
        )
    )
    assert decision.verdict is Verdict.ATTACHED
    assert decision.story_id == story.id
    assert fingerprint("I.D.F. says").tokens == fingerprint("IDF says").tokens


def test_plural_verbs_in_es_fold_to_their_stem() -> None:
    assert fingerprint("Qatar pushes for a longer pause").tokens >= {"push"}
    assert (
        fingerprint("Envoy launches new round").tokens
        == fingerprint("Envoy launch new round").tokens
    )
