"""The libraries a run's ML steps need, loaded while its daily dbt step waits on dbt."""

from __future__ import annotations

import importlib.util
import sys
import threading

import pytest

from ml_assets.libraries import ML_STEP_MODULES
from smepulse_lib.background_imports import loading_in_background


@pytest.fixture
def fresh_module(tmp_path, monkeypatch):
    """A module nothing has imported, which records the thread that imported it."""
    name = "smepulse_fresh_module_for_test"
    (tmp_path / f"{name}.py").write_text("import threading\nLOADED_BY = threading.current_thread().name\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_the_modules_are_loaded_by_another_thread_before_the_block_ends(fresh_module):
    with loading_in_background([fresh_module]) as thread:
        assert thread is not None and thread is not threading.current_thread()
    assert not thread.is_alive()
    assert sys.modules[fresh_module].LOADED_BY == "background-imports"


def test_nothing_starts_when_every_module_is_loaded():
    with loading_in_background(["json", "dagster"]) as thread:
        assert thread is None


def test_a_module_that_fails_to_load_stops_neither_the_block_nor_the_others(fresh_module):
    with loading_in_background(["smepulse_no_such_module", fresh_module]):
        pass
    assert fresh_module in sys.modules
    assert "smepulse_no_such_module" not in sys.modules


@pytest.mark.parametrize("name", ML_STEP_MODULES)
def test_every_library_the_ml_steps_are_given_exists(name):
    # a misspelt name would fail quietly in the thread and leave the import to the step
    assert importlib.util.find_spec(name) is not None, name
