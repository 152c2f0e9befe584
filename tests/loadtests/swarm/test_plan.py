"""``loadtests.swarm.plan``: every bad parameter is one ``UserError`` line before anything
starts; a good set is laid out as the stage table and the run folder's path."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.clients.options import ScenarioParams
from loadtests.swarm.locust_process import MasterSpec
from loadtests.swarm.plan import check_params, check_scenario, plan_swarm, policy_doc
from target_service.errors import UserError

GOOD = dict(users=10, spawn_rate=2.0, duration_s=30.0, processes=1, client_policy="fixed-2s")


@pytest.mark.parametrize(("change", "says"), [
    ({"users": 0}, "--users"),
    ({"spawn_rate": 0.0}, "--spawn-rate"),
    ({"duration_s": 0.0}, "--duration"),
    ({"duration_s": 25 * 3600.0}, "--duration"),
    ({"processes": 0}, "--processes"),
    ({"client_policy": "fastest"}, "--client-policy"),
    ({"processes": 2, "master": MasterSpec(expect_workers=2)}, "exclude each other"),
    ({"master": MasterSpec(expect_workers=0)}, "--expect-workers"),
])
def test_each_bad_parameter_is_one_user_error(change: dict[str, object], says: str) -> None:
    with pytest.raises(UserError, match=says):
        check_params(**{**GOOD, **change})  # type: ignore[arg-type]


def test_good_parameters_pass_and_the_policy_is_recorded_as_its_table() -> None:
    check_params(**GOOD)  # type: ignore[arg-type]
    check_params(**GOOD, master=MasterSpec(expect_workers=3))  # type: ignore[arg-type]
    assert policy_doc("server") == "server"
    doc = policy_doc("seed-optimal")
    assert isinstance(doc, dict) and doc


@pytest.mark.parametrize(("scenario", "says"), [
    (ScenarioParams(realtime="carrier-pigeon"), "carrier-pigeon"),
    (ScenarioParams(reconnect_every_s=-1.0), "--reconnect-every"),
])
def test_a_bad_scenario_is_one_user_error(scenario: ScenarioParams, says: str) -> None:
    with pytest.raises(UserError, match=says):
        check_scenario(scenario)


def test_a_plan_lays_out_stages_and_the_run_folder(tmp_path: Path) -> None:
    plan = plan_swarm(host="http://127.0.0.1:9", redis_url="redis://127.0.0.1:9/0",
                      users=6, spawn_rate=3.0, duration_s=20.0, shape="step:start=2,step=2",
                      processes=1, client_policy="fixed-2s", run_id="r1", runs_dir=tmp_path,
                      allow_remote=False, scenario=None, master=None)
    assert plan.run_dir == tmp_path.resolve() / "r1"
    assert [s.users for s in plan.stages] == sorted(s.users for s in plan.stages)
    assert plan.stages[-1].users == 6
    assert plan.planned_s == plan.stages[-1].end_s
    assert not any(tmp_path.iterdir())  # planning writes nothing
    with pytest.raises(UserError, match="loopback"):
        plan_swarm(host="http://example.com", redis_url="redis://127.0.0.1:9/0", users=1,
                   spawn_rate=1.0, duration_s=5.0, shape="constant", processes=1,
                   client_policy="fixed-2s", run_id=None, runs_dir=tmp_path,
                   allow_remote=False, scenario=None, master=None)
