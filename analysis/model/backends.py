"""Backend node counts from measured CPU: Valkey's and PostgreSQL's CPU per user.

The embedded stack knows the PIDs of its Valkey and PostgreSQL servers, so their CPU
is sampled per step like the service's (resources columns ``redis_cpu_percent`` and
``postgres_cpu_percent``, 100 = one core). CPU per user (user-weighted over the steps
that met the SLO, like the plan's other per-user rates) then sizes each backend:

    nodes(N) = ceil(N × cpu_per_user / (cores_per_node × headroom))

Valkey executes commands on one thread, so a node is one core however many it has;
a PostgreSQL node has ``PG_CORES_PER_NODE`` (the plan's stated "modest 4-vCPU" node).
When no CPU was sampled (external servers) the stated per-node constants of
``analysis.model.plan`` stay in use; a user's own per-node figures override both.

Caveat stated in the plan: the measured Valkey also serves the load test's own
sample writes unless the samples go to a metrics Redis of their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

REDIS_CORES_PER_NODE = 1.0  # one command thread
PG_CORES_PER_NODE = 4.0
BACKENDS: dict[str, tuple[str, float]] = {  # name -> (step-table column, cores per node)
    "Redis": ("redis_cpu_percent", REDIS_CORES_PER_NODE),
    "PostgreSQL": ("postgres_cpu_percent", PG_CORES_PER_NODE),
}


@dataclass(frozen=True, slots=True)
class BackendSizing:
    name: str
    cpu_cores_per_user: float | None  # None: not measured
    cores_per_node: float
    users_per_node: float | None  # at the headroom
    source: str  # "measured CPU" or "not measured"


@dataclass(frozen=True, slots=True)
class BackendNodes:
    name: str
    target_users: int
    nodes: int | None


def cpu_per_user(table: pd.DataFrame, *, column: str, max_users: int | None) -> float | None:
    """User-weighted cores per user over the steps up to ``max_users`` (all if None)."""
    if column not in table:
        return None
    rows = table if max_users is None else table[table["users"] <= max_users]
    cpu = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=np.float64)
    users = rows["users"].to_numpy(dtype=np.float64)
    keep = np.isfinite(cpu) & (users > 0)
    if not keep.any() or cpu[keep].sum() <= 0:
        return None
    return float(cpu[keep].sum() / 100.0 / users[keep].sum())


def size_backends(table: pd.DataFrame, *, last_pass_users: int | None,
                  headroom: float) -> list[BackendSizing]:
    """Measured sizing of each backend (``last_pass_users``: the SLO capacity's last pass)."""
    if not 0 < headroom <= 1:
        raise ValueError("headroom must be in (0, 1]")
    out = []
    for name, (column, cores) in BACKENDS.items():
        per_user = cpu_per_user(table, column=column, max_users=last_pass_users)
        users_per_node = cores * headroom / per_user if per_user else None
        out.append(BackendSizing(name=name, cpu_cores_per_user=per_user, cores_per_node=cores,
                                 users_per_node=users_per_node,
                                 source="measured CPU" if per_user else "not measured"))
    return out


def per_node_throughput_s(sizing: BackendSizing, *, rate_per_user_s: float) -> float | None:
    """Ops (or queries) per second one node serves at full CPU, as measured.

    The plan's unit: ``rate_per_user_s × cores_per_node / cpu_per_user``, so the plan's
    ``ceil(load / (per_node × headroom))`` gives the same node counts as :func:`node_counts`.
    """
    per_user = sizing.cpu_cores_per_user
    if not per_user or not math.isfinite(rate_per_user_s) or rate_per_user_s <= 0:
        return None
    return rate_per_user_s * sizing.cores_per_node / per_user


def node_counts(sizing: Sequence[BackendSizing], *, targets: Sequence[int]) -> list[BackendNodes]:
    """Nodes each backend needs at each target user count (None where not measured)."""
    return [BackendNodes(name=s.name, target_users=t,
                         nodes=max(1, math.ceil(t / s.users_per_node))
                         if s.users_per_node else None)
            for s in sizing for t in targets]


def window_cpu_columns(steps: pd.DataFrame, resources: pd.DataFrame, *,
                       warmup_fraction: float) -> dict[str, list[float]]:
    """Per-step mean CPU of each backend column present in ``resources``."""
    from analysis.model.generator import window_means

    return {column: window_means(steps, resources, column=column,
                                 warmup_fraction=warmup_fraction)
            for column, _ in BACKENDS.values() if column in resources}
