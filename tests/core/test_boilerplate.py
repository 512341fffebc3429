"""Feed boilerplate is removed; the story's own words are kept."""

from __future__ import annotations

import pytest

from bot.core.boilerplate import strip_boilerplate

STORY = "Mediators said the Hamas team would return to Cairo on Tuesday."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"{STORY}\n\nShare.", STORY),
        (f"{STORY}\nShare this article", STORY),
        (f"{STORY}\n\nExit mobile version", STORY),
        (f"{STORY}Exit mobile version", STORY),  # glued on without a line break
        (f"{STORY}\nContinue reading...", STORY),
        (f"{STORY} Continue reading…", STORY),
        (f"{STORY}\nRead more", STORY),
        (f"{STORY}\nRead the full story", STORY),
        (f"{STORY} [\u2026]", STORY),
        (f"{STORY} [...]", STORY),
        (
            f"{STORY} The post Hamas team to return to Cairo appeared first on Gulf Daily Wire.",
            STORY,
        ),
        (f"CAIRO (Reuters) - {STORY}", STORY),
        (f"CAIRO, Feb 4 (Reuters) - {STORY}", STORY),
        (f"GAZA CITY, Gaza Strip (AP) — {STORY}", STORY),
        (f"(AP) — {STORY}", STORY),
        (f"By Jane Doe\n{STORY}", STORY),
        (f"By Jane Doe and John Roe, CNN\n\n{STORY}", STORY),
        (f"By Jane Doe, CNN (CNN) — {STORY}", STORY),
        (f"{STORY}\nPhoto: Mahmoud Ali/AFP", STORY),
        (f"{STORY} (Photo by Said Khatib / AFP)", STORY),
        (f"{STORY}\nGetty Images", STORY),
        (f"{STORY} Photograph: Ahmad Hasaballah/Getty Images", STORY),
        (f"{STORY}\nCredit: Amir Cohen/Reuters", STORY),
        (f"{STORY} Click here to get alerts on your phone.", STORY),
        (f"{STORY} Sign up for our Middle East newsletter.", STORY),
        (f"{STORY}\nThis story has been updated with additional reporting.", STORY),
        (f"{STORY} This article was updated on Monday.", STORY),
        ("<p>" + STORY + "</p><p>Share.</p>", STORY),
        (STORY.replace("Hamas", "Hamas&#8217;s"), STORY.replace("Hamas", "Hamas’s")),
    ],
)
def test_boilerplate_pattern_is_removed(raw: str, expected: str) -> None:
    assert strip_boilerplate(raw) == expected


def test_unfinished_last_sentence_is_dropped_when_a_whole_one_precedes() -> None:
    raw = f"{STORY} Israel said it would not send a delegation until it had rec…"
    assert strip_boilerplate(raw) == STORY


def test_a_lone_truncated_sentence_keeps_whole_words_and_says_it_goes_on() -> None:
    raw = "Hamas said on Sunday that its delegation would travel to Cairo once the mediat..."
    assert (
        strip_boilerplate(raw)
        == "Hamas said on Sunday that its delegation would travel to Cairo once the…"
    )


@pytest.mark.parametrize(
    "text",
    [
        "By Sunday, negotiators in Cairo had agreed on a text.",
        "Share prices in Tel Aviv rose after the truce was announced.",
        "Read more carefully, the proposal gives Hamas little.",
        "The photo showed the delegation arriving in Cairo.",
        "Officials said the talks were at an impasse; the Qatari team left.",
    ],
)
def test_story_sentences_that_look_like_boilerplate_are_kept(text: str) -> None:
    assert strip_boilerplate(text) == text


def test_paragraphs_are_kept_and_spaces_collapsed() -> None:
    raw = "First  paragraph here.\n\n\n\nSecond\tparagraph here.\nShare."
    assert strip_boilerplate(raw) == "First paragraph here.\n\nSecond paragraph here."


def test_empty_and_all_boilerplate_give_empty_text() -> None:
    assert strip_boilerplate("") == ""
    assert strip_boilerplate("Share.\nExit mobile version\nRead more") == ""
