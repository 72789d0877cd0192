"""Every case of the bad-input corpus (tests/bad_input_corpus.py) ends in a correct load, a
quarantine with the reason and conservation, a clear refusal, or a named skip: none is silently
wrong. Real files in a real landing folder, loaded by bronze into a real lake."""

import pytest

from tests.bad_input_corpus import CASES, Case, clean_world, run_case


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


def test_a_file_that_cannot_be_read_is_refused_like_a_bad_one(clean_landing, tmp_path, monkeypatch):
    """Permission denied on one delivered file: the run fails naming it and the error, nothing of the
    day is written. Mocked: the tests run as root, whom the file system never refuses."""
    from smepulse_lib import storage

    read_bytes = storage.read_bytes

    def denied(url: str) -> bytes:
        if "2020-01-03" in url:
            raise PermissionError(13, "Permission denied", url)
        return read_bytes(url)

    monkeypatch.setattr(storage, "read_bytes", denied)
    case = Case("permission denied", "file", "kaggle_invoices", "refuse", lambda folder: None, "Permission denied")
    outcome = run_case(case, clean_landing, tmp_path / "case")
    assert outcome.correct, outcome.problems
    assert "cannot be read: Permission denied" in outcome.message
