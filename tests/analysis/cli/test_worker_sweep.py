"""``pollcap capacity --workers 2 --sweep-workers`` end to end on a tiny ramp."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from target_service.embedded.stack import StackInfo
from tests.analysis.cli.test_capacity import TINY, _capacity


@pytest.mark.parametrize("args", [["--host", "http://127.0.0.1:9"],
                                  ["--master", "--expect-workers", "2"]])
def test_the_sweep_excludes_an_external_service_and_a_master(
    tmp_path: Path, args: list[str]
) -> None:
    result = _capacity(["--workers", "2", "--sweep-workers", *args], tmp_path=tmp_path,
                       timeout_s=60)
    assert result.returncode == 2
    assert "--sweep-workers starts the service itself" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_sweep_over_two_workers_runs_both_and_says_when_cores_are_shared(
    clean_backends: StackInfo, tmp_path: Path
) -> None:
    result = _capacity([*TINY, "--workers", "2", "--sweep-workers"], tmp_path=tmp_path,
                       stack=clean_backends, timeout_s=300)
    assert result.returncode == 0, result.stderr[-3000:]
    reports = tmp_path / "reports"
    (sweep_file,) = reports.glob("sweep-workers-*.json")
    sweep = json.loads(sweep_file.read_text())
    points = sweep["points"]
    assert [p["workers"] for p in points] == [1, 2]
    for point in points:  # each worker count is a whole capacity run with its own report
        folder = reports / point["run_id"]
        meta = json.loads((folder / "meta.json").read_text())
        assert meta["service_workers"] == point["workers"]
        assert (folder / "report.html").is_file()
        assert point["peak_requests_per_s"] > 0
    assert points[0]["speedup"] == 1.0
    shared = len(os.sched_getaffinity(0)) < 3  # 2 workers + 1 generator core
    assert points[1]["cores_shared"] is shared
    assert ("generator and service share cores at 2 workers" in result.stdout) is shared
    assert sweep["fit"] is None  # two worker counts never fit three parameters
    assert "no USL over workers" in result.stdout
