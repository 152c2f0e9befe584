"""Shared typer option aliases: one declaration per option that several commands take.

Like a FastAPI ``deps.py``: a command says ``cache: CacheOpt = "fresh"`` and gets the
flag name, the environment variable, the help and the check. Defaults come from
:mod:`analysis.defaults` (one place); durations are strings in one format
(``60s``, ``2m``, ``1m30s``; a bare number is seconds) read by :func:`duration_s`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from loadtests.durations import parse_duration_s
from target_service.errors import UserError

CACHE_MODES = ("fresh", "seed")


def check_cache_mode(value: str) -> str:
    """``--cache`` checked; every command taking :data:`CacheOpt` calls it first (a typer
    callback would not run when the command is called as a function)."""
    if value not in CACHE_MODES:
        raise UserError(f"--cache must be fresh or seed, got {value!r}")
    return value


def duration_s(text: str, *, option: str, min_s: float = 0.0, max_s: float | None = None) -> float:
    """Seconds of a duration option (``60s``, ``2m``, ``90``); a UserError names the option."""
    try:
        seconds = parse_duration_s(text)
    except UserError as exc:
        raise UserError(f"{option}: {exc}") from None
    if seconds < min_s or (max_s is not None and seconds > max_s):
        upper = f" and at most {max_s:g} s" if max_s is not None else ""
        raise UserError(f"{option} must be at least {min_s:g} s{upper}, got {text!r}")
    return seconds


CacheOpt = Annotated[
    str,
    typer.Option(
        "--cache",
        help="Service cache mode: fresh (never stale) or seed (the source design's 5 s cache).",
    ),
]
RedisUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--redis-url", envvar="POLLCAP_REDIS_URL", help="Use this Redis/Valkey; launch none."
    ),
]
MetricsRedisUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--metrics-redis-url",
        envvar="POLLCAP_METRICS_REDIS_URL",
        help="Redis for the load test's samples and counters (default: a Valkey of its own,"
        " apart from the service's).",
    ),
]
DatabaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url", envvar="POLLCAP_DATABASE_URL", help="Use this PostgreSQL; launch none."
    ),
]
ReportsDirOpt = Annotated[
    Path, typer.Option("--reports-dir", help="Folder holding the reports/<run-id>/ folders.")
]
RunsDirOpt = Annotated[
    Path, typer.Option("--runs-dir", help="Folder the swarm's runs/<run-id>/ are written to.")
]


# Plan figures: `capacity` takes them with defaults, `report` as overrides of the run's.
def _slo_option() -> typer.models.OptionInfo:
    return typer.Option("--slo-p95-ms", min=1, help="p95 delivery-latency SLO in ms.")


def _headroom_option() -> typer.models.OptionInfo:
    return typer.Option(
        "--headroom", min=0.05, max=1.0, help="Planned utilisation of SLO capacity."
    )


def _price_option() -> typer.models.OptionInfo:
    return typer.Option(
        "--price-per-million", min=0, help="USD per million requests (serverless-style price)."
    )


SloP95Opt = Annotated[float, _slo_option()]
HeadroomOpt = Annotated[float, _headroom_option()]
PricePerMillionOpt = Annotated[float, _price_option()]
SloP95OverrideOpt = Annotated[float | None, _slo_option()]
HeadroomOverrideOpt = Annotated[float | None, _headroom_option()]
PricePerMillionOverrideOpt = Annotated[float | None, _price_option()]
# the workload both capacity ramps and `pollcap transports` run (defaults stay at the call)
ChannelsOpt = Annotated[
    int, typer.Option(min=1, help="Chat channels users spread over (skewed).")
]
SenderShareOpt = Annotated[
    float, typer.Option(min=0.0, max=1.0, help="Share of users who also send messages.")
]
SendRateOpt = Annotated[
    float, typer.Option(min=0.0, help="Messages per minute of each sender (Poisson).")
]
SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed",
        help="Seed of the users' random draws (who sends, which channel, jitter, spells): "
        "tab i of Locust process w draws from (seed, w, i), so two runs with one seed run "
        "the same workload; recorded in the run's JSON and shown in the report.",
    ),
]
TargetUsersOpt = Annotated[
    int | None,
    typer.Option("--target-users", min=1, help="Exit 1 unless the SLO holds at this many users."),
]
PricesOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--prices", metavar="FILE",
        help="Your own price table (TOML or JSON, fields as in analysis/prices/*.toml); "
        "repeatable; replaces a shipped table of the same name.",
    ),
]

# Your own service: a target description (loadtests/targets/) and, to measure it, its PID.
TargetOpt = Annotated[
    Path | None,
    typer.Option(
        "--target", metavar="FILE",
        help="Target description (TOML) of the service at --host: paths, cursor, fields, auth "
        "(see README 'Test your own service'); default: the reference service's own.",
    ),
]
ServicePidOpt = Annotated[
    int | None,
    typer.Option(
        "--service-pid", metavar="PID",
        help="PID of the service at --host (its process tree is measured: CPU, memory); "
        "without it a --host service's CPU and memory are not measured.",
    ),
]


def check_own_service(*, target: Path | None, host: str | None, allow_remote: bool,
                      service_pid: int | None) -> str:
    """``--target``/``--host``/``--service-pid`` checked before anything starts; returns the
    description's absolute path ("" for the reference service's own)."""
    from loadtests.swarm.safety import check_host
    from loadtests.swarm.service_watch import check_service_pid
    from loadtests.targets.checks import check_reachable, check_target, is_reference

    path = "" if target is None else str(target.resolve())
    check_target(path or None)
    if host is None:
        if not is_reference(path):
            raise UserError("--target describes your own service: give its --host URL "
                            "(pollcap starts only the reference service)")
        if service_pid is not None:
            raise UserError("--service-pid is for a --host service (pollcap measures the "
                            "service it starts itself)")
    else:
        check_host(host, allow_remote=allow_remote)
        check_reachable(host)
    check_service_pid(service_pid)
    return path
