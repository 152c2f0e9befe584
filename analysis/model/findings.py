"""The figures a capacity report adds on top of the step table, the USL and the plan.

One pure function, :func:`model_findings`, gathers what issue 12 asks of every report:

* the utilization-law bound X ≤ cores / D and the USL peak capped by it
  (:mod:`analysis.model.bound`), with the steps that exceed it (there should be none);
* generator-bound steps and whether the SLO capacity is only a lower bound
  (:mod:`analysis.model.generator`);
* Valkey and PostgreSQL node counts from their measured CPU (:mod:`analysis.model.backends`);
* cost per 1,000 users per month under every price table (:mod:`analysis.model.pricing`);
* what the knee-finding ramp (:mod:`analysis.model.knee`) would run next after these steps,
  read from the same step table: the report says whether the run found its knee.

The report renders these; :func:`findings_json` is their part of ``summary.json``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.model.audience import (
    DEFAULT_CHANNEL_SKEW,
    DEFAULT_CHANNELS,
    audience_share,
    expected_deliveries_per_user_s,
    measured_deliveries_per_user_s,
)
from analysis.model.backends import (
    BackendNodes,
    BackendSizing,
    node_counts,
    per_node_throughput_s,
    size_backends,
    window_cpu_columns,
)
from analysis.model.bound import (
    BoundedUsl,
    DemandBound,
    bounded_peak,
    demand_bound,
    steps_over_bound,
)
from analysis.model.generator import (
    GeneratorStep,
    capacity_is_lower_bound,
    generator_steps,
    mean_lateness_ms,
    schedule_held,
    window_means,
    with_schedule_shortfall,
)
from analysis.model.knee import (
    Decision,
    KneeRules,
    crossing,
    figures_from_table,
    next_step,
    push_warmup_fraction,
    schedule_interval_ms,
)
from analysis.model.plan import PG_QUERIES_PER_NODE_S, REDIS_OPS_PER_NODE_S, PerUserRates, Plan
from analysis.model.pricing import CostEstimate, PriceTable, Usage, as_dict, estimate
from analysis.model.slo import SloCapacity
from analysis.model.usl import UslFit

DEFAULT_SENDER_SHARE = 0.1  # loadtests.swarm.run.ScenarioParams' defaults, for old meta
DEFAULT_SEND_RATE_PER_MIN = 6.0


@dataclass(frozen=True, slots=True)
class Findings:
    bound: DemandBound
    peak: BoundedUsl | None
    over_bound_users: list[int]
    generator: list[GeneratorStep]
    saturated_users: list[int]
    capacity_lower_bound: bool
    backends: list[BackendSizing]
    backend_nodes: list[BackendNodes]
    usage: Usage
    costs: list[CostEstimate]
    knee: Decision
    knee_hint: str  # the pollcap capacity options that measure that next step, or ""


def generator_verdicts(*, table: pd.DataFrame, steps: pd.DataFrame, resources: pd.DataFrame,
                       inputs: dict[str, Any]) -> list[GeneratorStep]:
    """The generator verdict of each step, in start order (``generator.generator_steps``)."""
    warmup = float(inputs.get("warmup_fraction", 0.25))
    ordered = steps.sort_values("start_ms", kind="stable").reset_index(drop=True)
    return generator_steps(
        table.sort_values("start_ms", kind="stable").reset_index(drop=True),
        interval_ms=_float(inputs.get("nominal_interval_ms")),
        generator_cores=float(inputs.get("generator_processes") or 1),
        service_cores=float(inputs.get("service_cores") or 1),
        generator_cpu_percent=window_means(ordered, resources, column="generator_cpu_percent",
                                           warmup_fraction=warmup),
        late_ms=mean_lateness_ms(ordered), warmup_fraction=warmup)


def judge_schedule(table: pd.DataFrame, *, generator_bound: Sequence[int],
                   inputs: dict[str, Any]) -> pd.DataFrame:
    """``table`` with each step's ``schedule_shortfall`` (polling runs with a nominal
    interval; the ``generator_bound`` steps are left unjudged), as the report, the knee
    replay and ``pollcap compare`` read the SLO."""
    return with_schedule_shortfall(table, interval_ms=schedule_interval_ms(inputs),
                                   generator_bound=generator_bound,
                                   warmup_fraction=float(inputs.get("warmup_fraction", 0.25)))


def model_findings(*, table: pd.DataFrame, fit: UslFit | None, capacity: SloCapacity,
                   plan: Plan, steps: pd.DataFrame, resources: pd.DataFrame,
                   inputs: dict[str, Any], price_tables: Sequence[PriceTable],
                   targets: Sequence[int]) -> Findings:
    """Everything above for one analysed run (``table``: ``stats.step_table`` of ``steps``)."""
    warmup = float(inputs.get("warmup_fraction", 0.25))
    held = schedule_held(table, interval_ms=_float(inputs.get("nominal_interval_ms")),
                         warmup_fraction=warmup)
    bound = demand_bound(table, cores=float(inputs.get("service_cores") or 1),
                         max_error_rate=float(inputs.get("max_error_rate", 0.01)), held=held)
    max_users = int(table["users"].max()) if len(table) else 0
    peak = bounded_peak(fit, bound=bound, max_measured_users=max_users) if fit else None
    ordered = steps.sort_values("start_ms", kind="stable").reset_index(drop=True)
    by_start = table.sort_values("start_ms", kind="stable").reset_index(drop=True)
    gen = generator_verdicts(table=table, steps=steps, resources=resources, inputs=inputs)
    saturated = [g.users for g in gen if g.saturated]
    with_cpu = by_start.assign(**window_cpu_columns(ordered, resources, warmup_fraction=warmup))
    backends = size_backends(with_cpu, last_pass_users=capacity.last_pass_users,
                             headroom=plan.headroom)
    usage = usage_from_run(table=table, capacity=capacity, plan=plan, backends=backends,
                           inputs=inputs, held=held)
    return Findings(
        bound=bound, peak=peak, over_bound_users=steps_over_bound(table, bound=bound),
        generator=gen, saturated_users=saturated,
        capacity_lower_bound=capacity_is_lower_bound(
            status=capacity.status, first_fail_users=capacity.first_fail_users,
            last_pass_users=capacity.last_pass_users, saturated_users=saturated),
        backends=backends, backend_nodes=node_counts(backends, targets=targets), usage=usage,
        costs=[estimate(t, usage) for t in price_tables],
        **_knee(by_start, saturated=saturated, inputs=inputs))


def _knee(table: pd.DataFrame, *, saturated: Sequence[int],
          inputs: dict[str, Any]) -> dict[str, Any]:
    """The knee ramp's decision after the measured steps, from the report's own figures.

    A run made by the live knee ramp records each step's phase (``knee_phases``): the
    replay then reaches the decision the run took, worded with the table's numbers.
    Without phases every step is taken as planned (what would the ramp run next?).
    """
    phases = {int(p["users"]): p["phase"] for p in inputs.get("knee_phases") or []}
    done = figures_from_table(table, saturated_users=saturated, phases=phases,
                              push_warmup_fraction=push_warmup_fraction(inputs))
    if not done:
        return {"knee": Decision(users=None, phase=None, reason="no step measured"),
                "knee_hint": ""}
    rules = KneeRules(slo_p95_ms=float(inputs.get("slo_p95_ms", 3000.0)),
                      max_error_rate=float(inputs.get("max_error_rate", 0.01)),
                      **({"max_users": int(inputs["knee_max_users"])}
                         if inputs.get("knee_max_users") else {}))
    planned = [d.users for d in done if d.phase == "planned"] or [done[0].users]
    decision = next_step(planned=planned, done=done, rules=rules)
    hint = ""
    if decision.phase == "extend" and decision.users is not None:
        hint = f"--max-users {decision.users}"
    bracket = crossing(done, rules=rules)
    if decision.phase == "refine" and bracket is not None:
        lo, hi = bracket
        hint = f"--start-users {lo} --step-users {max(1, (hi - lo) // 4)} --max-users {hi}"
    return {"knee": decision, "knee_hint": hint}


def measured_node_throughput(*, table: pd.DataFrame, steps: pd.DataFrame,
                             resources: pd.DataFrame, capacity: SloCapacity,
                             rates: PerUserRates, headroom: float,
                             warmup_fraction: float) -> dict[str, float]:
    """``scale_out_plan`` per-node keywords from measured backend CPU (empty if unmeasured)."""
    ordered = steps.sort_values("start_ms", kind="stable").reset_index(drop=True)
    by_start = table.sort_values("start_ms", kind="stable").reset_index(drop=True)
    with_cpu = by_start.assign(**window_cpu_columns(ordered, resources,
                                                    warmup_fraction=warmup_fraction))
    sized = {b.name: b for b in size_backends(with_cpu, last_pass_users=capacity.last_pass_users,
                                              headroom=headroom)}
    out = {"redis_ops_per_node_s": per_node_throughput_s(sized["Redis"],
                                                         rate_per_user_s=rates.redis_ops_per_s),
           "pg_queries_per_node_s": per_node_throughput_s(
               sized["PostgreSQL"], rate_per_user_s=rates.pg_queries_per_s)}
    return {k: v for k, v in out.items() if v is not None}


def usage_from_run(*, table: pd.DataFrame, capacity: SloCapacity, plan: Plan,
                   backends: Sequence[BackendSizing], inputs: dict[str, Any],
                   held: pd.Series | None = None) -> Usage:
    """One user's demand over the steps that met the SLO (all steps when none did).

    The response time (a Lambda's billed duration) is the least mean response time of
    the ``held`` steps among them (``generator.schedule_held``) when there are any. A
    Lambda serves one request per instance, so it bills the service time without the
    queue that builds on the one measured instance, with load and with other processes
    on its core. Queueing only adds, so the least step mean is the closest reading of that
    service time. Two default runs put the user-weighted mean of their held steps at 3.7
    and 41.5 ms, their 500-user steps at 1.1 and 1.7 ms: in the second run the 1,500-user
    step answered in 55 ms at 61 % CPU, its core shared with other sessions' processes.
    Without held steps: the user-weighted mean of the steps within the SLO.

    Deliveries per user are the workload's expectation (stated sends × the channel
    model's audience at these steps' users); the recorded rate is kept beside it."""
    rows = table if capacity.last_pass_users is None else table[
        table["users"] <= capacity.last_pass_users]
    users = rows["users"].to_numpy(dtype=np.float64)
    window_s = ((rows["end_ms"] - rows["start_ms"]).to_numpy(dtype=np.float64) / 1000.0
                * (1 - float(inputs.get("warmup_fraction", 0.25))))
    measured = measured_deliveries_per_user_s(
        users=users, window_s=window_s,
        deliveries=rows.get("delivery_samples", pd.Series(0, index=rows.index)).to_numpy(
            dtype=np.float64))
    response = rows.get("req_mean_ms", pd.Series(np.nan, index=rows.index)).to_numpy(
        dtype=np.float64)
    keep = np.isfinite(response) & (users > 0)
    on_time = keep & (np.zeros(len(rows), dtype=bool) if held is None else
                      held.reindex(rows.index, fill_value=False).to_numpy(dtype=bool))
    share = float(inputs.get("sender_share", DEFAULT_SENDER_SHARE))
    rate = float(inputs.get("send_rate_per_min", DEFAULT_SEND_RATE_PER_MIN))
    sends_s = share * rate / 60.0
    audience = audience_share(channels=int(inputs.get("channels") or DEFAULT_CHANNELS),
                              skew=float(inputs.get("channel_skew", DEFAULT_CHANNEL_SKEW)))
    sized = {b.name: b for b in backends}
    return Usage(
        requests_per_user_s=plan.rates.requests_per_s,
        response_ms=float(response[on_time].min()) if on_time.any() else float(
            (response[keep] * users[keep]).sum() / users[keep].sum()) if keep.any() else math.nan,
        sends_per_user_s=sends_s,
        # the channel model's expectation: the measured rate swings 30-45% (analysis.model.audience)
        deliveries_per_user_s=expected_deliveries_per_user_s(users=users, sends_per_user_s=sends_s,
                                                             share=audience),
        deliveries_measured_per_user_s=measured,
        users_per_instance=plan.users_per_instance,
        redis_nodes_per_user=_per_user(sized.get("Redis"), plan.rates.redis_ops_per_s,
                                       REDIS_OPS_PER_NODE_S * plan.headroom),
        pg_nodes_per_user=_per_user(sized.get("PostgreSQL"), plan.rates.pg_queries_per_s,
                                    PG_QUERIES_PER_NODE_S * plan.headroom))


def _per_user(sizing: BackendSizing | None, rate_per_user: float, per_node: float) -> float:
    """Nodes per user: measured CPU when sampled, else the stated per-node throughput."""
    if sizing is not None and sizing.users_per_node:
        return 1.0 / sizing.users_per_node
    return rate_per_user / per_node if math.isfinite(rate_per_user) else 0.0


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def findings_json(f: Findings) -> dict[str, Any]:
    """The ``model`` part of ``summary.json`` (NaN/inf left for the caller's cleaner)."""
    return {
        "bound": {**asdict(f.bound), "demand_us": f.bound.demand_us},
        "usl_peak": None if f.peak is None else {
            "users": asdict(f.peak.peak_users), "requests_per_s": asdict(
                f.peak.peak_requests_per_s),
            "max_measured_users": f.peak.max_measured_users},
        "steps_over_bound": f.over_bound_users,
        "generator": [asdict(g) for g in f.generator],
        "generator_saturated_users": f.saturated_users,
        "slo_capacity_is_lower_bound": f.capacity_lower_bound,
        "backends": [asdict(b) for b in f.backends],
        "backend_nodes": [asdict(n) for n in f.backend_nodes],
        "usage": asdict(f.usage),
        "costs": [as_dict(c) for c in f.costs],
        "knee_next": {**asdict(f.knee), "hint": f.knee_hint},
    }
