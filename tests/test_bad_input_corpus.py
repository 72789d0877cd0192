"""Every case of the bad-input corpus (tests/bad_input_corpus.py) ends in a correct load, a
quarantine with the reason and conservation, a clear refusal, or a named skip: none is silently
wrong. Real files in a real landing folder, loaded by bronze into a real lake."""

import pytest

from tests.bad_input_corpus import CASES, clean_world, run_case


@pytest.fixture(scope="module")
def clean_landing(tmp_path_factory):
    return clean_world(tmp_path_factory.mktemp("corpus"))


def test_the_corpus_covers_every_class_of_trouble():
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)
    assert {c.kind for c in CASES} == {"file", "placement", "row", "value"}
    assert {c.expect for c in CASES} == {"load", "quarantine", "refuse", "skip"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_handled_right(case, clean_landing, tmp_path):
    outcome = run_case(case, clean_landing, tmp_path / "case")
    assert outcome.correct, f"{case.name}: {outcome.problems}"
