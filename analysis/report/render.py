"""The capacity report: ``RunData`` in, ``report.html`` + ``summary.json`` out.

Input (``analysis.runs.RunData``, one folder ``reports/<run-id>/``):

* ``steps``      DataFrame, one row per step: ``users, start_ms, end_ms`` (epoch ms) and,
                 optionally, counts over the step: ``requests, failures, lost,
                 duplicated, redis_ops, pg_queries`` (deltas of the runner's
                 snapshots at ``start_ms`` and ``end_ms``);
* ``samples``    ``{"poll" | "message" | "notification": DataFrame}`` as read by
                 ``loadtests.recording.samples`` (``t_ms, user, n, latency_ms[, channel][, seq]``);
* ``resources``  DataFrame ``t_ms, cpu_percent, rss_bytes`` of the service;
* ``meta``       dict: ``slo_p95_ms, target_users, headroom, price_per_million_usd,
                 service_policy, nominal_interval_ms, cache_ttl_s, warmup_fraction, ...``
                 (``analysis.runs.META_KEYS``); missing keys take ``PLAN_DEFAULTS``.

``analyse`` turns it into an ``Analysis`` (pure maths: step table, USL fit with
bootstrap band, out-of-sample validation, SLO capacity, scale-out plan and
cost, delivery causes); ``build_report`` writes the files; the terminal table
lives in ``analysis.report.console``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from analysis.defaults import PLAN_DEFAULTS, PlanDefaults
from analysis.model.causes import StepCause, diagnose, summarize
from analysis.model.cost import price_assumption
from analysis.model.findings import (
    Findings,
    findings_json,
    generator_verdicts,
    judge_schedule,
    measured_node_throughput,
    model_findings,
)
from analysis.model.generator import schedule_held
from analysis.model.plan import (
    PG_QUERIES_PER_NODE_S,
    REDIS_OPS_PER_NODE_S,
    Plan,
    per_user_rates,
    scale_out_plan,
)
from analysis.model.pricing import PriceTable, default_tables
from analysis.model.push import PUSH_TRANSPORTS, PushFindings, push_findings
from analysis.model.slo import SloCapacity, slo_capacity
from analysis.model.stats import step_table
from analysis.model.usl import (
    BOOTSTRAP_SAMPLES,
    UslFit,
    UslValidation,
    fit_usl,
    usl_steps,
    validate_usl,
)
from analysis.report import figures as plots
from analysis.runs import RunData, jsonable

TEMPLATES_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class Analysis:
    run_id: str
    inputs: dict[str, Any]
    table: pd.DataFrame
    fit: UslFit | None
    fit_note: str
    validation: UslValidation | None
    capacity: SloCapacity
    plan: Plan
    causes: list[StepCause]
    causes_summary: str
    slo_at_target: bool | None
    slo_note: str
    findings: Findings | None = None  # issue 12: CPU bound, generator, backends, cost
    push: PushFindings | None = None  # issue 10: per-step push figures (--realtime push)


@dataclass(frozen=True, slots=True)
class ReportFiles:
    html: Path
    summary: Path
    analysis: Analysis
    elapsed_s: float


def resolved_inputs(
    meta: dict[str, Any], *, defaults: PlanDefaults = PLAN_DEFAULTS, **overrides: Any
) -> dict[str, Any]:
    """``meta`` with ``defaults`` filled in and non-None ``overrides`` applied."""
    inputs = {"slo_p95_ms": defaults.slo_p95_ms, "max_error_rate": defaults.max_error_rate,
              "headroom": defaults.headroom,
              "price_per_million_usd": defaults.price_per_million_usd,
              "warmup_fraction": defaults.warmup_fraction,
              "target_users": None, "cache_ttl_s": None, "nominal_interval_ms": None}
    inputs.update(meta)
    inputs.update({k: v for k, v in overrides.items() if v is not None})
    return inputs


def analyse(data: RunData, *, bootstrap: int = BOOTSTRAP_SAMPLES, seed: int = 0,
            price_tables: list[PriceTable] | None = None, **overrides: Any) -> Analysis:
    """All numbers of the report, computed from ``data`` (no files, no output)."""
    inputs = resolved_inputs(data.meta, **overrides)
    table = step_table(steps=data.steps, samples=data.samples, resources=data.resources,
                       warmup_fraction=float(inputs["warmup_fraction"]))
    generator_bound = [g.users for g in generator_verdicts(
        table=table, steps=data.steps, resources=data.resources, inputs=inputs) if g.saturated]
    table = judge_schedule(table, generator_bound=generator_bound, inputs=inputs)
    fit_rows, left_out = usl_steps(table, max_error_rate=float(inputs["max_error_rate"]),
                                   generator_bound=generator_bound)
    fit, fit_note = _fit(fit_rows, bootstrap=bootstrap, seed=seed)
    fit_note = f"{fit_note}; {left_out}" if left_out else fit_note
    validation = _validate(fit_rows)
    capacity = slo_capacity(table, slo_p95_ms=float(inputs["slo_p95_ms"]),
                            max_error_rate=float(inputs["max_error_rate"]))
    rates = per_user_rates(table, capacity=capacity, held=schedule_held(
        table, interval_ms=inputs.get("nominal_interval_ms"),
        warmup_fraction=float(inputs["warmup_fraction"])))
    # backend nodes from measured CPU; per-node figures given in the inputs override them
    per_node = measured_node_throughput(
        table=table, steps=data.steps, resources=data.resources, capacity=capacity,
        rates=rates, headroom=float(inputs["headroom"]),
        warmup_fraction=float(inputs["warmup_fraction"]))
    per_node.update({k: float(inputs[k]) for k in ("redis_ops_per_node_s",
                                                   "pg_queries_per_node_s") if inputs.get(k)})
    plan = scale_out_plan(capacity=capacity, rates=rates, headroom=float(inputs["headroom"]),
                          price_per_million_usd=float(inputs["price_per_million_usd"]),
                          redis_ops_per_node_s=per_node.get("redis_ops_per_node_s",
                                                            REDIS_OPS_PER_NODE_S),
                          pg_queries_per_node_s=per_node.get("pg_queries_per_node_s",
                                                             PG_QUERIES_PER_NODE_S))
    if per_node:
        plan = replace(plan, assumptions=[*plan.assumptions, (
            "per-node throughput of " + " and ".join(sorted(per_node)) + " from the backends' "
            "measured CPU per user (Valkey's includes the load test's own sample writes, "
            "so its node counts err high)")])
    causes = diagnose(table, cache_ttl_s=inputs["cache_ttl_s"],
                      nominal_interval_ms=inputs["nominal_interval_ms"],
                      slo_p95_ms=float(inputs["slo_p95_ms"]))
    slo_ok, slo_note = _slo_at_target(capacity, inputs["target_users"])
    findings = model_findings(
        table=table, fit=fit, capacity=capacity, plan=plan, steps=data.steps,
        resources=data.resources, inputs=inputs, targets=[r.target_users for r in plan.rows],
        price_tables=default_tables() if price_tables is None else price_tables)
    return Analysis(run_id=data.run_id, inputs=inputs, table=table, fit=fit, fit_note=fit_note,
                    validation=validation, capacity=capacity, plan=plan, causes=causes,
                    causes_summary=summarize(causes), slo_at_target=slo_ok, slo_note=slo_note,
                    findings=findings, push=_push(data, table=table, inputs=inputs))


def _push(data: RunData, *, table: pd.DataFrame, inputs: dict[str, Any]) -> PushFindings | None:
    """Per-step push figures when the run's transport was a push one (else None)."""
    transport = inputs.get("realtime")
    if transport not in PUSH_TRANSPORTS or data.steps.empty:
        return None
    p50 = {int(u): float(v) for u, v in zip(table["users"], table["delivery_p50_ms"],
                                            strict=True)}
    return push_findings(transport=str(transport), steps=data.steps, resources=data.resources,
                         messages=data.samples.get("message", pd.DataFrame({"t_ms": []})),
                         step_delivery_p50_ms=p50,
                         warmup_fraction=float(inputs["warmup_fraction"]))


def build_report(data: RunData, *, out_dir: Path, **overrides: Any) -> ReportFiles:
    """Analyse and write ``report.html`` and ``summary.json`` into ``out_dir``."""
    started = time.perf_counter()
    result = analyse(data, **overrides)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, summary_path = out_dir / "report.html", out_dir / "summary.json"
    html_path.write_text(render_html(result), encoding="utf-8")
    summary_path.write_text(json.dumps(summary(result), indent=2, allow_nan=False))
    return ReportFiles(html=html_path, summary=summary_path, analysis=result,
                       elapsed_s=time.perf_counter() - started)


def render_html(result: Analysis) -> str:
    """The self-contained page: figures inlined as base64 PNG."""
    figures = {
        "throughput": plots.throughput_figure(
            result.table, result.fit, slo_users=result.capacity.users,
            bound_requests_per_s=result.findings.bound.max_requests_per_s
            if result.findings else None),
        "latency": plots.latency_figure(result.table, slo_p95_ms=result.capacity.slo_p95_ms),
        "errors": plots.errors_figure(result.table),
        "resources": plots.resources_figure(result.table),
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    env.filters["num"] = _num
    env.filters["interval"] = interval_text
    return env.get_template("report.html.j2").render(
        r=result, s=summary(result), figures={k: plots.to_data_uri(v) for k, v in figures.items()},
        price_assumption=price_assumption(float(result.inputs["price_per_million_usd"])),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def summary(result: Analysis) -> dict[str, Any]:
    """JSON-ready summary (NaN/inf become null)."""
    fit = result.fit
    doc = {
        "run_id": result.run_id,
        # why the ramp ended (the knee ramp's decision, read from these steps' figures)
        "stop_reason": result.inputs.get("stop_reason"),
        "ramp": result.inputs.get("ramp", "fixed"),
        "inputs": result.inputs,
        "steps": result.table.to_dict("records"),
        "usl": None if fit is None else {
            "sigma": fit.sigma, "kappa": fit.kappa, "lambda": fit.lambda_,
            "r_squared": fit.r_squared, "n_points": fit.n_points,
            "peak_users": fit.peak_n, "peak_requests_per_s": fit.peak_x,
            "ci": {k: list(v) for k, v in fit.ci.items()}, "confidence": fit.confidence,
            # the raw model peak; the headline figures are model.usl_peak (capped, labelled)
            "extrapolated": fit.peak_n > float(result.table["users"].max()),
        },
        "usl_note": result.fit_note,
        "validation": None if result.validation is None else {
            k: v for k, v in asdict(result.validation).items() if k != "fit"},
        "slo_capacity": asdict(result.capacity),
        "slo_at_target": result.slo_at_target,
        "slo_note": result.slo_note,
        "plan": asdict(result.plan),
        "causes": [asdict(c) for c in result.causes],
        "causes_summary": result.causes_summary,
        "model": None if result.findings is None else findings_json(result.findings),
        "push": None if result.push is None else {
            "transport": result.push.transport,
            "rss_kib_per_connection": result.push.rss_kib_per_connection,
            "steps": result.push.table.to_dict("records"),
            "causes": [asdict(c) for c in result.push.causes],
            "summary": result.push.summary},
    }
    return jsonable(doc)


def _fit(table: pd.DataFrame, *, bootstrap: int, seed: int) -> tuple[UslFit | None, str]:
    usable = table[np.isfinite(table["requests_per_s"]) & (table["users"] > 0)]
    try:
        fit = fit_usl(usable["users"], usable["requests_per_s"], bootstrap=bootstrap, seed=seed)
    except ValueError as exc:
        return None, f"no USL fit: {exc}"
    if math.isinf(fit.peak_n):
        return fit, "κ = 0: no throughput peak within the model (contention only)"
    return fit, f"throughput peaks near {fit.peak_n:.0f} users at {fit.peak_x:.0f} requests/s"


def _validate(table: pd.DataFrame) -> UslValidation | None:
    try:
        return validate_usl(table["users"], table["requests_per_s"])
    except ValueError:
        return None


def _slo_at_target(capacity: SloCapacity, target: Any) -> tuple[bool | None, str]:
    if target is None:
        return None, "no target user count given"
    target = int(target)
    if capacity.users is None:
        return False, f"SLO fails at {target} users: not met at any measured step"
    if capacity.status == "never_exceeded" and target > capacity.users:
        return False, f"SLO not shown at {target} users: the ramp stopped at {capacity.users:.0f}"
    held = target <= capacity.users
    return held, f"SLO {'holds' if held else 'fails'} at {target} users (capacity " \
                 f"{capacity.users:.0f})"


def interval_text(interval: tuple[float, float] | None) -> str:
    """A figure's bootstrap interval as the cards and the console print it ('' if none)."""
    if interval is None:
        return ""
    lo, hi = (f"{v:,.0f}" if math.isfinite(v) else "∞" for v in interval)
    return f"95% interval {lo} – {hi}"


def _num(value: Any, digits: int = 0) -> str:
    """Template filter: thousands separators, '–' for missing values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float) and abs(value) < 1 and value != 0 and digits == 0:
        return f"{value:.3g}"
    return f"{value:,.{digits}f}"
