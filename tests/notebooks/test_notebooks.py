"""The notebooks execute end to end on small data (stored without outputs).

Run with the kernel of the interpreter running the tests (ipykernel's native
``python3`` spec resolves to ``sys.executable``), so a clean clone needs no
``ipykernel install``. Parameters are overridden the papermill way: a cell
injected after the one tagged ``parameters``.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from target_service.policy import load_policy

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SMALL_GRID = {
    "threshold_levels": {"above_users": [5, 20], "intervals_ms": [1000, 3000], "max_levels": 1},
    "default_ms": [2000, 5000],
    "load_factor": [1.0, 1.5],
    "load_threshold": [0.8],
}

pytestmark = pytest.mark.slow


def execute(name: str, *, cwd: Path, overrides: dict[str, object]) -> nbformat.NotebookNode:
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    tagged = [i for i, c in enumerate(book.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    source = "\n".join(f"{key} = {value!r}" for key, value in overrides.items())
    book.cells.insert(tagged[0] + 1, nbformat.v4.new_code_cell(source))
    NotebookClient(
        book, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return book


@pytest.mark.parametrize("name", ["tune_intervals.ipynb", "capacity_planning.ipynb"])
def test_notebook_is_stored_without_outputs(name: str) -> None:
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_tune_intervals_writes_a_loadable_policy(tmp_path: Path) -> None:
    book = execute(
        "tune_intervals.ipynb",
        cwd=tmp_path,
        overrides={"n_events": 3000, "grid": SMALL_GRID, "out_path": "tuned.json"},
    )
    policy = load_policy(str(tmp_path / "tuned.json"))
    text = json.dumps([c.get("outputs", []) for c in book.cells], default=str)
    assert "wrote tuned.json" in text and policy.name in text
    assert "image/png" in text  # the Pareto figure


def test_capacity_planning_runs_on_a_synthetic_ramp(tmp_path: Path) -> None:
    book = execute("capacity_planning.ipynb", cwd=tmp_path, overrides={"targets": [1000, 10000]})
    text = json.dumps([c.get("outputs", []) for c in book.cells], default=str)
    assert "peak:" in text and "seed-optimal" in text
