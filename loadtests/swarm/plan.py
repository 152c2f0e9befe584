"""What one swarm will run, checked before anything starts: :func:`plan_swarm`.

Every parameter a user can get wrong (counts, durations, the client policy, the
transport, the target description, a non-loopback host or master bind) is refused
here with a one-line :class:`UserError`, so a refused run writes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.clients.options import ScenarioParams
from loadtests.clients.providers.factory import UnknownTransport, choose_transport
from loadtests.recording.keys import new_run_id
from loadtests.shapes import Stage, parse_shape, total_duration_s
from loadtests.swarm.locust_process import MasterSpec
from loadtests.swarm.safety import check_host, check_master_bind
from loadtests.targets.checks import check_target, with_target_path
from target_service.errors import UserError
from target_service.policy import PolicyError, load_policy

MAX_DURATION_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class SwarmPlan:
    """What one swarm will run: checked parameters, the stage table, where it goes."""

    host: str
    redis_url: str
    users: int
    spawn_rate: float
    shape: str
    processes: int
    client_policy: str
    run_id: str
    run_dir: Path
    stages: list[Stage]
    scenario: ScenarioParams
    master: MasterSpec | None = None  # workers started elsewhere connect to this master

    @property
    def planned_s(self) -> float:
        return total_duration_s(self.stages)


def plan_swarm(
    *, host: str, redis_url: str, users: int, spawn_rate: float, duration_s: float,
    shape: str, processes: int, client_policy: str, run_id: str | None, runs_dir: Path,
    allow_remote: bool, scenario: ScenarioParams | None, master: MasterSpec | None,
) -> SwarmPlan:
    """Check every parameter (see the module docstring) and lay out the run."""
    check_host(host, allow_remote=allow_remote)
    check_params(users=users, spawn_rate=spawn_rate, duration_s=duration_s,
                 processes=processes, client_policy=client_policy, master=master)
    scenario = with_target_path(scenario or ScenarioParams())
    check_scenario(scenario)
    if master is not None:
        check_master_bind(master.bind_host, allow_remote=allow_remote)
    run_id = run_id or new_run_id()
    return SwarmPlan(
        host=host, redis_url=redis_url, users=users, spawn_rate=spawn_rate, shape=shape,
        processes=processes, client_policy=client_policy, run_id=run_id,
        run_dir=Path(runs_dir).resolve() / run_id,  # Locust runs with the project as its cwd
        stages=parse_shape(shape, users=users, spawn_rate=spawn_rate, duration_s=duration_s),
        scenario=scenario, master=master,
    )


def check_params(
    *, users: int, spawn_rate: float, duration_s: float, processes: int, client_policy: str,
    master: MasterSpec | None = None,
) -> None:
    if users < 1:
        raise UserError(f"--users must be at least 1, got {users}")
    if spawn_rate <= 0:
        raise UserError(f"--spawn-rate must be positive, got {spawn_rate}")
    if not 0 < duration_s <= MAX_DURATION_S:
        raise UserError(f"--duration must be within 1 s..24 h, got {duration_s} s")
    if not 1 <= processes <= (os.cpu_count() or 1) * 4:
        raise UserError(f"--processes must be within 1..{(os.cpu_count() or 1) * 4}")
    if master is not None and processes > 1:
        raise UserError("--master and --processes exclude each other: the workers of a "
                        "master are started elsewhere (locust --worker [--processes N])")
    if master is not None and not 1 <= master.expect_workers <= 1000:
        raise UserError(f"--expect-workers must be within 1..1000, got {master.expect_workers}")
    policy_doc(client_policy)


def check_scenario(scenario: ScenarioParams) -> None:
    """``--realtime`` names a transport; ``--reconnect-every`` is a sane mean; ``--target``
    is a good description that the chosen transport can follow."""
    try:
        transport = choose_transport(option=scenario.realtime, environ={})
    except UnknownTransport as exc:
        raise UserError(str(exc)) from None
    check_target(scenario.target, transport=transport)
    if not 0 <= scenario.reconnect_every_s <= MAX_DURATION_S:
        raise UserError(
            f"--reconnect-every must be within 0s..24h, got {scenario.reconnect_every_s} s"
        )


def transport(scenario: ScenarioParams) -> str:
    """The transport the Locust subprocess will pick (it inherits this environment)."""
    return choose_transport(option=scenario.realtime, environ=os.environ)


def policy_doc(client_policy: str) -> dict[str, Any] | str:
    """The users' pacing policy as recorded in the meta (``"server"``: the service's)."""
    if client_policy == "server":
        return "server"
    try:
        return load_policy(client_policy).to_dict()
    except PolicyError as exc:
        raise UserError(f"--client-policy: {exc} (or 'server')") from None
