"""A synthetic step-ramp run (``RunData``) with a known shape, for report tests.

Users poll every ``interval_ms`` in a closed loop against a service whose
throughput follows a USL curve: below saturation each user polls on time, past
it the cycle stretches to N / X(N) and the excess becomes response time.
Delivery latency is the wait for the next poll plus the response time (plus a
cache staleness term when ``cache_ttl_s`` is given). Seeded; nothing measured.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.model.usl import usl_throughput
from analysis.runs import RunData

T0_MS = 1_800_000_000_000


def make_run_data(
    *,
    run_id: str = "synthetic",
    users: tuple[int, ...] = (50, 100, 200, 400, 700, 1000, 1400, 1800),
    step_s: float = 20.0,
    interval_ms: float = 2000.0,
    sigma: float = 0.001,
    kappa: float = 1e-6,
    lambda_: float = 2.0,
    base_ms: float = 15.0,
    cache_ttl_s: float | None = None,
    seed: int = 0,
) -> RunData:
    rng = np.random.default_rng(seed)
    steps, polls, messages, notes, resources = [], [], [], [], []
    peak_rps = float(np.max(usl_throughput(np.arange(1, 20_000), sigma=sigma, kappa=kappa,
                                           lambda_=lambda_)))
    for i, n in enumerate(users):
        start_ms = T0_MS + int(i * step_s * 1000)
        end_ms = start_ms + int(step_s * 1000)
        capacity_rps = float(usl_throughput(n, sigma=sigma, kappa=kappa, lambda_=lambda_))
        cycle_ms = max(interval_ms, n / capacity_rps * 1000.0)
        queue_ms = cycle_ms - interval_ms
        # every user polls on a grid with a random phase
        per_user = int(step_s * 1000 // cycle_ms)
        phase = rng.uniform(0, cycle_ms, size=n)
        t = start_ms + phase[:, None] + np.arange(per_user)[None, :] * cycle_ms
        user_ids = np.repeat(np.arange(n), per_user)
        latency = base_ms * rng.lognormal(0.0, 0.3, size=t.size) + queue_ms
        polls.append(pd.DataFrame({"t_ms": t.ravel().astype(np.int64),
                                   "user": [f"u{u}" for u in user_ids],
                                   "n": np.tile(np.arange(per_user), n),
                                   "latency_ms": np.round(latency, 3),
                                   "channel": [f"c{u % 10}" for u in user_ids]}))
        m = n * 2
        wait = rng.uniform(0, cycle_ms, size=m) + base_ms * rng.lognormal(0, 0.3, size=m) + queue_ms
        if cache_ttl_s:
            wait += rng.uniform(0, cache_ttl_s * 1000.0, size=m)
        t_msg = np.sort(rng.uniform(start_ms, end_ms, size=m)).astype(np.int64)
        messages.append(pd.DataFrame({"t_ms": t_msg, "user": [f"u{k % n}" for k in range(m)],
                                      "n": np.arange(m), "latency_ms": np.round(wait, 3),
                                      "channel": [f"c{k % 10}" for k in range(m)],
                                      "seq": np.arange(m)}))
        k = m // 4
        notes.append(pd.DataFrame({"t_ms": t_msg[:k], "user": [f"u{j}" for j in range(k)],
                                   "n": np.arange(k),
                                   "latency_ms": np.round(rng.uniform(0, 10_000, k), 3)}))
        requests = t.size * 1.25
        error_rate = max(0.0, (queue_ms / cycle_ms) - 0.2) * 0.2
        steps.append({"users": n, "start_ms": start_ms, "end_ms": end_ms,
                      "requests": round(requests), "failures": round(requests * error_rate),
                      "lost": 0, "duplicated": 0,
                      "redis_ops": round(requests * 3), "pg_queries": round(requests * 0.4)})
        t_res = np.arange(start_ms, end_ms, 1000)
        resources.append(pd.DataFrame({
            "t_ms": t_res, "cpu_percent": min(100.0, 100.0 * (n / cycle_ms * 1000) / peak_rps)
            + rng.normal(0, 2, t_res.size),
            "rss_bytes": 80e6 + n * 20e3 + rng.normal(0, 1e6, t_res.size)}))
    samples = {
        "poll": pd.concat(polls).sort_values("t_ms", kind="stable").reset_index(drop=True),
        "message": pd.concat(messages).sort_values("t_ms", kind="stable").reset_index(drop=True),
        "notification": pd.concat(notes).sort_values("t_ms", kind="stable").reset_index(drop=True),
    }
    meta = {"policy": "fixed-2s", "nominal_interval_ms": interval_ms, "cache_ttl_s": cache_ttl_s,
            "slo_p95_ms": 3000, "target_users": 500, "host": "127.0.0.1 (synthetic)"}
    return RunData(run_id=run_id, steps=pd.DataFrame(steps), samples=samples,
                   resources=pd.concat(resources).reset_index(drop=True), meta=meta)
