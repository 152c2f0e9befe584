"""Run folders: what is written is read back; old folders still load; bad ones are UserErrors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from analysis.runs import RunData, load_run_data, save_run_data
from target_service.errors import UserError


def test_folder_round_trip_keeps_every_part(
    tmp_path: Path, capacity_run_data: Callable[..., RunData]
) -> None:
    data = capacity_run_data(run_id="rt")
    save_run_data(data, reports_dir=tmp_path)
    back = load_run_data("rt", reports_dir=tmp_path)
    assert back.meta == data.meta
    assert list(back.steps["users"]) == list(data.steps["users"])
    sizes = {k: len(v) for k, v in data.samples.items()}
    assert {k: len(v) for k, v in back.samples.items()} == sizes
    assert len(back.resources) == len(data.resources)


def test_an_old_meta_policy_key_reads_as_the_service_policy(
    tmp_path: Path, capacity_run_data: Callable[..., RunData]
) -> None:
    folder = save_run_data(capacity_run_data(run_id="old"), reports_dir=tmp_path)
    meta = json.loads((folder / "meta.json").read_text())
    meta["policy"] = meta.pop("service_policy")
    (folder / "meta.json").write_text(json.dumps(meta))
    back = load_run_data("old", reports_dir=tmp_path).meta
    assert back["service_policy"] == "fixed-2s" and "policy" not in back


def test_missing_folder_or_steps_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no report folder"):
        load_run_data("nope", reports_dir=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="steps.csv is missing"):
        load_run_data("empty", reports_dir=tmp_path)
