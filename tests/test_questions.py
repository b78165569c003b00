"""The concept questions test understanding, not test-taking: across the course, the key of a
multiple-choice question is rarely its longest option and no letter is the key too often.
"""

import re
from collections import Counter

import pytest

from autograder import notebooks
from tests.labs_under_test import LABS

QUESTION = re.compile(r"\*\*(Q\d+)\.\*\*")
OPTION = re.compile(r"^- ([a-d])\) (.*?)(?=^- [a-d]\) |\Z)", re.S | re.M)
MOST = 0.40


def multiple_choice_questions() -> list[tuple[str, str, dict[str, str], str]]:
    """(lab, question, options by letter with their text on one line, key) for every lab."""
    found = []
    for lab in LABS:
        solutions = lab.solutions()
        for cell in notebooks.read(lab.notebook).cells:
            if cell.cell_type != "markdown":
                continue
            starts = [m for m in QUESTION.finditer(cell.source)]
            for match, following in zip(starts, [*starts[1:], None]):
                text = cell.source[match.end():following.start() if following else None]
                options = {letter: " ".join(body.split()) for letter, body in OPTION.findall(text)}
                if options:
                    found.append((lab.lab_id, match[1], options, getattr(solutions, match[1])))
    return found


QUESTIONS = multiple_choice_questions()


@pytest.mark.parametrize(("lab", "question", "options", "key"), QUESTIONS,
                         ids=[f"{lab} {question}" for lab, question, _, _ in QUESTIONS])
def test_each_question_offers_four_options_and_its_key_among_them(lab, question, options, key):
    assert sorted(options) == ["a", "b", "c", "d"]
    assert key in options


def test_the_key_is_the_longest_option_in_at_most_40_percent_of_the_questions():
    longest = [f"{lab} {question}" for lab, question, options, key in QUESTIONS
               if len(options[key]) == max(len(text) for text in options.values())]
    assert len(longest) <= MOST * len(QUESTIONS), longest


def test_no_letter_is_the_key_of_more_than_40_percent_of_the_questions():
    keys = Counter(key for _, _, _, key in QUESTIONS)
    assert max(keys.values()) <= MOST * len(QUESTIONS), keys


def test_the_course_has_multiple_choice_and_numeric_questions():
    assert len(QUESTIONS) >= 20
    numeric = sum(isinstance(getattr(lab.solutions(), name), (int, float))
                  for lab in LABS for name in dir(lab.solutions()) if re.fullmatch(r"Q\d+", name))
    assert numeric >= 15
