"""``pollcap capacity``'s inputs: its own option declarations and the checks they get
before anything starts (shared options are in :mod:`analysis.cli.options`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from analysis.cli.options import duration_s
from target_service.errors import UserError

if TYPE_CHECKING:
    from analysis.capacity.knee_loop import KneeSettings
    from loadtests.swarm.run import MasterSpec

QuickOpt = Annotated[bool, typer.Option(help="A short ramp (about 90 s in all).")]
MaxUsersOpt = Annotated[
    int | None,
    typer.Option(min=1, help="The most users the ramp may run: the knee ramp extends up "
                 "to it (default 20000); the fixed ramp's last step."),
]
FixedRampOpt = Annotated[
    bool,
    typer.Option(help="Play the planned steps only (start, step, max), stopped by the "
                 "saturation rule, instead of the knee ramp that extends past them "
                 "until the SLO breaks and bisects the crossing twice."),
]
PlanStepsOpt = Annotated[
    int | None,
    typer.Option(min=1, help="The knee ramp's planned steps, from --start-users by "
                 "--step-users (default 4; 3 with --quick), before it extends."),
]
BudgetOpt = Annotated[
    str | None,
    typer.Option(help="The knee ramp's time cap from its first step (default 135s; 80s "
                 "with --quick): no step starts that would end after it."),
]
StartUsersOpt = Annotated[int | None, typer.Option(min=1, help="Users of the first step.")]
StepUsersOpt = Annotated[int | None, typer.Option(min=1, help="Users added per step.")]
HoldOpt = Annotated[
    str | None,
    typer.Option(help="How long each step is held: 18s, 1m (default 18s; 12s with --quick)."),
]
PolicyOpt = Annotated[
    str, typer.Option(help="Service interval policy: preset name or JSON file.")
]
ClientPolicyOpt = Annotated[
    str,
    typer.Option(
        help="How users pace polls: preset, JSON file, or 'server' (obey pollIntervalMs)."
    ),
]
RealtimeOpt = Annotated[
    str | None,
    typer.Option(help="Transport of the users: polling, long-poll, sse or websocket "
                 "(default: env REALTIME=websocket selects WebSocket, else polling). Push "
                 "transports add connections, memory and CPU per connection to the report."),
]
ReconnectEveryOpt = Annotated[
    str, typer.Option(help="Drop each push connection after an exponential time with "
                      "this mean and resume it (60s, 2m; 0 = never).")
]
WorkersOpt = Annotated[int, typer.Option(min=1, help="uvicorn workers of the service.")]
SweepWorkersOpt = Annotated[
    bool,
    typer.Option(help="One capacity run per worker count 1..--workers, then the USL over "
                 "workers (cores pinned apart where the machine has them; see "
                 "analysis/capacity/workers.py)."),
]
ServiceCpusOpt = Annotated[
    str, typer.Option(help="Cores for the service, e.g. 0 or 0,1 or any.")
]
GeneratorCpusOpt = Annotated[str, typer.Option(help="Cores for Locust, e.g. 1 or any.")]
ProcessesOpt = Annotated[
    int, typer.Option(min=1, help="Locust processes on this machine (Locust's --processes).")
]
MasterOpt = Annotated[
    bool,
    typer.Option(help="Run Locust as a master; its workers are started elsewhere with "
                 "`locust -f loadtests/locustfile.py --worker --master-host HOST`."),
]
ExpectWorkersOpt = Annotated[
    int | None, typer.Option(min=1, help="With --master: workers to wait for.")
]
MasterBindHostOpt = Annotated[
    str, typer.Option(help="With --master: where it listens (not loopback: --allow-remote).")
]
MasterBindPortOpt = Annotated[
    int, typer.Option(min=1, max=65535, help="With --master: its port (Locust's 5557).")
]
WorkersWaitOpt = Annotated[
    str, typer.Option(help="With --master: how long to wait for the workers (120s, 5m).")
]
HostOpt = Annotated[
    str | None, typer.Option(help="Measure this service instead of starting one.")
]
AllowRemoteOpt = Annotated[
    bool, typer.Option(help="Allow a --host or --master-bind-host that is not loopback.")
]


def transport(realtime: str | None) -> str:
    """``--realtime`` checked before anything starts ("" leaves it to ``REALTIME``)."""
    from loadtests.clients.providers.factory import TRANSPORTS

    if realtime is None:
        return ""
    if realtime not in TRANSPORTS:
        raise UserError(f"--realtime must be one of {', '.join(TRANSPORTS)}, got {realtime!r}")
    return realtime


def knee_settings(*, quick: bool, max_users: int | None, budget: str | None) -> KneeSettings:
    """The knee ramp's caps from ``--max-users`` and ``--budget``."""
    from analysis.capacity.knee_loop import KNEE_BUDGET_S, KNEE_MAX_USERS, KneeSettings

    budget_s = (80.0 if quick else KNEE_BUDGET_S) if budget is None else duration_s(
        budget, option="--budget")
    if budget_s < 10:
        raise UserError(f"--budget must be at least 10 s, got {budget_s:g} s")
    return KneeSettings(max_users=max_users or KNEE_MAX_USERS, budget_s=budget_s)


def check_policies(*, policy: str, client_policy: str) -> None:
    """Both policy specs load (``server`` means: users obey the service's interval)."""
    from target_service.policy import PolicyError, load_policy

    for option, spec in (("--policy", policy), ("--client-policy", client_policy)):
        if option == "--client-policy" and spec == "server":
            continue
        try:
            load_policy(spec)
        except PolicyError as exc:
            raise UserError(f"{option}: {exc}") from None


def master_spec(
    *, master: bool, expect_workers: int | None, bind_host: str, bind_port: int,
    workers_wait: str, processes: int, allow_remote: bool,
) -> MasterSpec | None:
    """``--master --expect-workers N``: both or neither, checked before anything starts."""
    from loadtests.swarm.run import MasterSpec
    from loadtests.swarm.safety import check_master_bind

    if not master:
        if expect_workers is not None:
            raise UserError("--expect-workers needs --master")
        return None
    if expect_workers is None:
        raise UserError("--master needs --expect-workers N (the workers started elsewhere)")
    if processes > 1:
        raise UserError("--master and --processes exclude each other: the workers of a "
                        "master are started elsewhere (locust --worker [--processes N])")
    check_master_bind(bind_host, allow_remote=allow_remote)
    return MasterSpec(expect_workers=expect_workers, bind_host=bind_host, bind_port=bind_port,
                      workers_wait_s=duration_s(workers_wait, option="--workers-wait"))


def cpu_list(text: str | None, option: str) -> tuple[int, ...] | None:
    """Core numbers of a ``--*-cpus`` option (``0``, ``0,1``); None for ``any`` or empty."""
    if text is None or text.strip() in ("", "any"):
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UserError(
            f"{option} takes core numbers like 0 or 0,1 (or 'any'), got {text!r}"
        ) from None
