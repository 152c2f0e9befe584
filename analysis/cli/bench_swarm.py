"""``pollcap bench-swarm``: the generator bench, recording on vs off, CPU from outside.

N 2-second pollers on one Locust process pinned to the first core, against the
in-memory stub (the generator alone) or the reference service on the other cores;
the two arms' figures go to ``runs/bench-swarm-<run-id>.json`` and, worded against
the bench's targets, to stdout.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from analysis.cli.options import DatabaseUrlOpt, RedisUrlOpt, duration_s
from analysis.cli.swarm_output import err, progress_bar
from loadtests.clients.options import ScenarioParams
from loadtests.durations import parse_duration_s
from loadtests.swarm.targets import bench_target
from target_service.errors import UserError

if TYPE_CHECKING:
    from loadtests.bench.run import BenchArm

TARGET_KINDS = ("stub", "service")
BENCH_SENDER_SHARE = 0.005  # a few senders: the bench measures polling, not fan-out
BENCH_NOTIFICATION_RATE_PER_S = 1.0
# the toggled arm's window: a 60 s arm (25 s of it the ramp) has a 29 s steady window,
# 7 whole on/off pairs of 2 s; short windows split a sent message's burst of deliveries
# (its channel's tabs over their next 2 s poll) between the two states
DEFAULT_TOGGLE = "2s"
ToggleOpt = Annotated[
    str,
    typer.Option(
        help=(
            "Second arm: recording switched off and on every this long in one process,"
            " which gives recording's CPU share without the minute-to-minute drift of"
            " a shared machine (0: a recording-off arm, the share from the two arms)"
        )
    ),
]


def bench_swarm(
    users: Annotated[
        int, typer.Option(help="2-second pollers in the one Locust process (target: 10000)")
    ] = 10_000,
    duration: Annotated[str, typer.Option(help="Run time of each arm (duration: 60s, 2m)")] = "60s",
    spawn_rate: Annotated[float, typer.Option(help="Users started per second")] = 400.0,
    target_kind: Annotated[
        str,
        typer.Option(
            "--against",
            help=(
                "stub: in-memory poll API server (measures the generator alone); "
                "service: the reference service (then the service is usually the limit)"
            ),
        ),
    ] = "stub",
    workers: Annotated[
        int, typer.Option(help="Service uvicorn workers (--against service)")
    ] = 1,
    redis_url: RedisUrlOpt = None,
    database_url: DatabaseUrlOpt = None,
    runs_dir: Annotated[Path, typer.Option(help="Where the two runs go")] = Path("runs"),
    json_out: Annotated[bool, typer.Option("--json", help="Print the figures as JSON")] = False,
    gc_tuning: Annotated[
        bool, typer.Option(help="Freeze objects after the ramp, fewer young GC passes (A/B)")
    ] = True,
    toggle: ToggleOpt = DEFAULT_TOGGLE,
) -> None:
    """Generator bench: N pollers on one Locust process, recording on vs off, CPU from outside.

    The first arm records throughout (the held rate); the second switches recording
    off and on every --toggle in one process (recording's CPU share, window pair by
    pair). Prints each target (pollers, rate held, recording's CPU share) beside its
    measured value and the ratio; exit 1 when a target is missed or an arm failed.
    """
    from loadtests.bench.verdict import bench_text, verdict

    if target_kind not in TARGET_KINDS:
        raise UserError(f"--against must be stub or service, got {target_kind!r}")
    toggle_s = duration_s(toggle, option="--toggle")
    if 0 < toggle_s < 1:
        raise UserError(f"--toggle must be 0 or at least 1s, got {toggle!r}")
    generator_cpus, target_cpus = bench_cpus(sorted(os.sched_getaffinity(0)))
    arms = _run_arms(
        users=users, duration_s=parse_duration_s(duration), spawn_rate=spawn_rate,
        target_kind=target_kind, workers=workers, redis_url=redis_url,
        database_url=database_url, runs_dir=runs_dir, gc_tuning=gc_tuning,
        generator_cpus=generator_cpus, target_cpus=target_cpus, toggle_s=toggle_s,
    )
    figures = {
        "users": users, "target": target_kind, "generator_cpus": generator_cpus,
        "target_cpus": target_cpus, "gc_tuning": gc_tuning, "toggle_s": toggle_s,
        "arms": [dataclasses.asdict(arm) for arm in arms],
        **verdict(arms[0], arms[1], users=users),
    }
    _save(figures, runs_dir=runs_dir, arms=arms)
    typer.echo(json.dumps(figures, indent=2) if json_out else bench_text(figures))
    if not figures["ok"]:
        raise typer.Exit(1)


def bench_cpus(cores: list[int]) -> tuple[list[int], list[int] | None]:
    """(generator's cores, target's cores): the first core for Locust, the rest (or none:
    shared) for the target."""
    return cores[:1], cores[1:] or None


def _run_arms(
    *, users: int, duration_s: float, spawn_rate: float, target_kind: str, workers: int,
    redis_url: str | None, database_url: str | None, runs_dir: Path, gc_tuning: bool,
    generator_cpus: list[int], target_cpus: list[int] | None, toggle_s: float,
) -> list[BenchArm]:
    """The two arms, recording on then toggled (or off), against one target started for
    both."""
    from loadtests.bench.run import run_arm

    scenario = ScenarioParams(sender_share=BENCH_SENDER_SHARE,
                              notification_rate_per_s=BENCH_NOTIFICATION_RATE_PER_S,
                              gc_tuning=gc_tuning)
    arms = []
    with bench_target(kind=target_kind, redis_url=redis_url, database_url=database_url,
                      workers=workers, cpu_affinity=target_cpus) as (url, rurl):
        for record, arm_toggle_s in ((True, 0.0), (toggle_s > 0, toggle_s)):
            with progress_bar(err.is_terminal) as on_progress:
                arms.append(run_arm(
                    record=record, host=url, redis_url=rurl, users=users,
                    spawn_rate=spawn_rate, duration_s=duration_s, runs_dir=runs_dir,
                    cpu_affinity=generator_cpus, scenario=scenario, progress=on_progress,
                    toggle_s=arm_toggle_s,
                ))
    return arms


def _save(figures: dict[str, Any], *, runs_dir: Path, arms: list[BenchArm]) -> None:
    runs_dir.mkdir(parents=True, exist_ok=True)
    name = arms[0].run_id or arms[1].run_id or "failed"
    (runs_dir / f"bench-swarm-{name}.json").write_text(json.dumps(figures, indent=2))
