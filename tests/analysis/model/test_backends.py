"""Backend node counts from measured CPU per user."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.model.backends import (
    PG_CORES_PER_NODE,
    cpu_per_user,
    node_counts,
    size_backends,
    window_cpu_columns,
)


def _table() -> pd.DataFrame:
    # Valkey: 0.02% of a core per user (20% at 1000 users); PostgreSQL: 0.1% per user
    users = [250, 500, 1000, 2000]
    return pd.DataFrame({"users": users,
                         "redis_cpu_percent": [u * 0.02 for u in users],
                         "postgres_cpu_percent": [u * 0.1 for u in users]})


def test_cpu_per_user_is_user_weighted_over_the_passing_steps() -> None:
    table = _table()
    assert cpu_per_user(table, column="redis_cpu_percent", max_users=1000) == pytest.approx(2e-4)
    table.loc[3, "redis_cpu_percent"] = 400.0  # a saturated failing step is left out
    assert cpu_per_user(table, column="redis_cpu_percent", max_users=1000) == pytest.approx(2e-4)
    assert cpu_per_user(table, column="absent", max_users=None) is None


def test_nodes_at_the_headroom_from_measured_cpu() -> None:
    sizing = {s.name: s for s in size_backends(_table(), last_pass_users=2000, headroom=0.7)}
    redis, pg = sizing["Redis"], sizing["PostgreSQL"]
    assert redis.users_per_node == pytest.approx(0.7 / 2e-4)  # 3,500 users on one thread
    assert pg.users_per_node == pytest.approx(PG_CORES_PER_NODE * 0.7 / 1e-3)  # 2,800 users
    counts = {(n.name, n.target_users): n.nodes
              for n in node_counts(list(sizing.values()), targets=(1_000, 100_000))}
    assert counts[("Redis", 1_000)] == 1 and counts[("Redis", 100_000)] == 29  # ceil(28.57)
    assert counts[("PostgreSQL", 100_000)] == 36  # ceil(35.7)


def test_without_samples_nothing_is_claimed() -> None:
    table = pd.DataFrame({"users": [100, 200]})
    sizing = size_backends(table, last_pass_users=None, headroom=0.7)
    assert all(s.source == "not measured" and s.users_per_node is None for s in sizing)
    assert all(n.nodes is None for n in node_counts(sizing, targets=(10_000,)))
    with pytest.raises(ValueError):
        size_backends(table, last_pass_users=None, headroom=0)


def test_backend_cpu_is_averaged_over_each_steady_window() -> None:
    steps = pd.DataFrame({"users": [1, 2], "start_ms": [0, 4000], "end_ms": [4000, 8000]})
    resources = pd.DataFrame({"t_ms": [500, 1500, 2500, 3500, 5500, 6500],
                              "redis_cpu_percent": [90.0, 10.0, 20.0, 30.0, 40.0, 60.0]})
    cols = window_cpu_columns(steps, resources, warmup_fraction=0.25)
    assert list(cols) == ["redis_cpu_percent"]
    assert cols["redis_cpu_percent"] == [pytest.approx(20.0), pytest.approx(50.0)]


def test_the_plans_per_node_throughput_gives_the_same_node_counts() -> None:
    import math

    from analysis.model.backends import per_node_throughput_s

    sizing = {s.name: s for s in size_backends(_table(), last_pass_users=2000, headroom=0.7)}
    redis_ops_per_user_s = 1.5
    per_node = per_node_throughput_s(sizing["Redis"], rate_per_user_s=redis_ops_per_user_s)
    assert per_node == pytest.approx(1.5 / 2e-4)  # 7,500 ops/s on one thread
    assert per_node is not None
    target = 100_000
    plan_nodes = math.ceil(target * redis_ops_per_user_s / (per_node * 0.7))
    counts = node_counts([sizing["Redis"]], targets=(target,))
    assert counts[0].nodes == plan_nodes
    assert per_node_throughput_s(sizing["Redis"], rate_per_user_s=float("nan")) is None
