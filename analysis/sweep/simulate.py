"""Evaluate interval policies against a recorded run, without running any load.

A run is cut into windows (the steps of a capacity run); in each window every
channel has some users and received some messages. A (window, channel) pair is a
*channel-state*: a policy maps its figures (active users, message rate, server
load) to one poll interval, so everything a policy changes is a vector of
intervals over channel-states. From it:

* request rate = sum over users of 1 / interval (pacing from poll start, as a
  browser timer does) plus the run's requests the policy does not govern
  (notifications, sends);
* server load = rate / capacity; the load feeds back into the interval through the
  policy's ``load_threshold`` / ``load_factor`` step, so the load is a fixed point.
  Because the step is the only load dependence, it is solved exactly: either the
  window stays below the threshold with fast intervals, or above it with slow
  ones, or neither is consistent and the clients hover at the threshold with the
  share ``p`` of slowed polls that makes the load equal it;
* response time at that load (:mod:`analysis.sweep.response`);
* delivery latency of every (message, receiver) pair: next poll + response time
  (+ cache staleness in ``seed`` cache mode), as an exact mixture
  (:mod:`analysis.sweep.delivery`);
* cost per month at the configured price per million requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.model.cost import cost_per_month_usd
from analysis.sweep.delivery import (
    mixture_mean,
    mixture_quantiles,
    sample_mixture,
    stale_probability,
)
from analysis.sweep.recorded import RecordedRun
from analysis.sweep.seed_cache import SeedDelayMemo, seed_delivery, state_delays
from analysis.sweep.states import ChannelStates, merge_states
from target_service.policy import ThresholdPolicy

QUANTILES = (0.50, 0.95, 0.99)
CHUNK_POLICIES = 1000


@dataclass(frozen=True)
class LoadSolution:
    """Per policy and window (arrays ``(P, W)``): the load fixed point and what follows."""

    fast_ms: np.ndarray  # (P, S) intervals below the load threshold
    slow_ms: np.ndarray  # (P, S) intervals above it
    slow_share: np.ndarray  # share of polls at the slow interval
    poll_rps: np.ndarray
    request_rps: np.ndarray
    load: np.ndarray
    response_ms: np.ndarray


def solve_load(
    run: RecordedRun, policies: Sequence[ThresholdPolicy], states: ChannelStates | None = None
) -> LoadSolution:
    """Intervals, request rate, load and response time of each policy in each window."""
    st = run.states if states is None else states
    fast = np.stack([_intervals(p, st, 0.0) for p in policies])
    slow = np.stack([_intervals(p, st, np.inf) for p in policies])
    threshold = np.array([p.load_threshold for p in policies], dtype=np.float64)[:, None]
    poll_fast = (st.users * 1000.0 / fast) @ st.indicator
    poll_slow = (st.users * 1000.0 / slow) @ st.indicator
    cap = run.response.capacity_rps
    rate_fast, rate_slow = poll_fast + run.background_rps, poll_slow + run.background_rps
    with np.errstate(divide="ignore", invalid="ignore"):
        hover = np.clip((threshold * cap - rate_fast) / (rate_slow - rate_fast), 0.0, 1.0)
    share = np.where(
        rate_fast <= threshold * cap, 0.0, np.where(rate_slow > threshold * cap, 1.0, hover)
    )
    share = np.nan_to_num(share)
    poll = poll_fast + share * (poll_slow - poll_fast)
    load = (poll + run.background_rps) / cap
    return LoadSolution(
        fast_ms=fast,
        slow_ms=slow,
        slow_share=share,
        poll_rps=poll,
        request_rps=poll + run.background_rps,
        load=load,
        response_ms=run.response.response_ms(load),
    )


def _intervals(policy: ThresholdPolicy, st: ChannelStates, load: float) -> np.ndarray:
    return policy.interval_ms_array(
        active_users=st.users, message_rate_per_s=st.message_rate_per_s, server_load=load
    )


def delivery_components(
    run: RecordedRun, states: ChannelStates, sol: LoadSolution
) -> dict[str, np.ndarray]:
    """Mixture components per policy, merged by (window, interval) and padded to ``(P, K)``.

    Channel-states of one window that share an interval share a distribution, so a
    policy has a handful of components however many channels the run has.
    """
    st = states
    n_pol, n_win = sol.load.shape
    values, codes = _codes(np.concatenate([sol.fast_ms, sol.slow_ms], axis=1))
    n_val = values.size
    share = sol.slow_share[:, st.window]  # (P, S)
    cells, plain, stale = [], [], []
    for code, interval, w in (
        (codes[:, : st.users.size], sol.fast_ms, st.weight * (1.0 - share)),
        (codes[:, st.users.size :], sol.slow_ms, st.weight * share),
    ):
        q = stale_probability(
            polls_per_s=st.users * 1000.0 / interval, cache_ttl_s=run.stale_ms / 1000
        )
        cells.append((np.arange(n_pol)[:, None] * n_win + st.window) * n_val + code)
        plain.append(w * (1.0 - q))
        stale.append(w * q)
    size = n_pol * n_win * n_val
    idx = np.concatenate(cells, axis=1).ravel()
    dense_plain = np.bincount(idx, np.concatenate(plain, axis=1).ravel(), size).reshape(n_pol, -1)
    dense_stale = np.bincount(idx, np.concatenate(stale, axis=1).ravel(), size).reshape(n_pol, -1)
    used = (dense_plain + dense_stale) > 0
    k_max = max(int(used.sum(axis=1).max(initial=0)), 1)
    pick = np.argsort(~used, axis=1, kind="stable")[:, :k_max]
    valid = np.take_along_axis(used, pick, axis=1)
    base = np.take_along_axis(sol.response_ms, pick // n_val, axis=1)
    return {
        "base_ms": np.where(valid, base, 0.0),
        "interval_ms": values[pick % n_val],
        "plain_w": np.where(valid, np.take_along_axis(dense_plain, pick, axis=1), 0.0),
        "stale_w": np.where(valid, np.take_along_axis(dense_stale, pick, axis=1), 0.0),
    }


def _codes(intervals_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct interval values and each entry's index among them (integer ms, so no sort)."""
    as_int = intervals_ms.astype(np.int64)
    present = np.bincount(as_int.ravel()) > 0
    values = np.flatnonzero(present)
    lookup = np.cumsum(present) - 1
    return values.astype(np.float64), lookup[as_int]


def evaluate_policies(
    run: RecordedRun,
    policies: Sequence[ThresholdPolicy],
    *,
    merge: bool = True,
    memo: SeedDelayMemo | None = None,
) -> pd.DataFrame:
    """One row per policy: request rate, load, response time, delivery p50/p95/p99, cost.

    ``merge=False`` evaluates every channel-state separately (same answer, slower;
    for checking :func:`analysis.sweep.states.merge_states`). ``memo`` keeps the seed-cache
    simulations for the next call on the same run (one is made per call without it).
    """
    memo = SeedDelayMemo() if memo is None else memo
    frames = [
        _evaluate_chunk(run, policies[i : i + CHUNK_POLICIES], merge=merge, memo=memo)
        for i in range(0, len(policies), CHUNK_POLICIES)
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _evaluate_chunk(
    run: RecordedRun, policies: Sequence[ThresholdPolicy], *, merge: bool, memo: SeedDelayMemo
) -> pd.DataFrame:
    edges = np.unique([above for p in policies for above, _ in p.rate_thresholds])
    simulated = run.stale_ms > 0 and run.seed_cache_model == "simulated"
    states = merge_states(run.states, rate_edges=edges) if merge and not simulated else run.states
    sol = solve_load(run, policies, states)
    saturated = (sol.load >= 1.0).any(axis=1)
    if simulated:
        q, mean = seed_delivery(
            run,
            memo=memo,
            fast_ms=sol.fast_ms,
            slow_ms=sol.slow_ms,
            slow_share=sol.slow_share,
            response_ms=sol.response_ms,
            quantiles=QUANTILES,
        )
    else:
        comps = delivery_components(run, states, sol)
        comps["base_ms"] = np.where(saturated.reshape(-1, 1), 0.0, comps["base_ms"])
        q = mixture_quantiles(**comps, stale_ms=run.stale_ms, quantiles=QUANTILES)
        mean = mixture_mean(**comps, stale_ms=run.stale_ms)
    q[saturated], mean[saturated] = np.inf, np.inf
    dur = run.states.window_s
    rate = sol.request_rps @ dur / dur.sum()
    return pd.DataFrame(
        {
            "name": [p.name for p in policies],
            "requests_per_s": rate,
            "polls_per_s": sol.poll_rps @ dur / dur.sum(),
            "peak_load": sol.load.max(axis=1),
            "response_ms": np.where(saturated, np.inf, sol.response_ms @ dur / dur.sum()),
            "delivery_mean_ms": mean,
            "delivery_p50_ms": q[:, 0],
            "delivery_p95_ms": q[:, 1],
            "delivery_p99_ms": q[:, 2],
            "cost_per_month_usd": cost_per_month_usd(
                rate, price_per_million_usd=run.price_per_million_usd
            ),
            "saturated": saturated,
        }
    )


def evaluate_policy(
    run: RecordedRun, policy: ThresholdPolicy, *, memo: SeedDelayMemo | None = None
) -> dict[str, float]:
    """:func:`evaluate_policies` for one policy, as a plain dict."""
    return evaluate_policies(run, [policy], memo=memo).iloc[0].to_dict()


def simulate_deliveries(
    run: RecordedRun,
    policy: ThresholdPolicy,
    *,
    seed: int = 0,
    max_pairs: int = 2_000_000,
    memo: SeedDelayMemo | None = None,
) -> np.ndarray:
    """Monte Carlo delivery latencies (ms), one per sampled (message, receiver) pair.

    Each receiver polls with a uniform random phase; in a window hovering at the
    load threshold a receiver is on the slow interval with the window's slow share;
    in ``seed`` cache mode the delay is drawn from the cache simulation of the
    pair's channel-state (or, analytic model, a live entry hides the message with
    the stale probability). Used to check the quantile maths, and for histograms.
    """
    st = run.states
    sol = solve_load(run, [policy])
    rng = np.random.default_rng(seed)
    msg_state = st.message_state[st.message_state >= 0]
    receivers = np.maximum(st.users[msg_state] - 1.0, 0.0).astype(np.int64)
    pair_state = np.repeat(msg_state, receivers)
    if pair_state.size > max_pairs:
        pair_state = rng.choice(pair_state, size=max_pairs, replace=False)
    window = st.window[pair_state]
    slow = rng.random(pair_state.size) < sol.slow_share[0, window]
    interval = np.where(slow, sol.slow_ms[0, pair_state], sol.fast_ms[0, pair_state])
    if run.stale_ms > 0 and run.seed_cache_model == "simulated":
        memo = SeedDelayMemo() if memo is None else memo
        out = sol.response_ms[0, window].copy()
        combos, which = np.unique(
            np.stack([pair_state, interval], axis=1), axis=0, return_inverse=True
        )
        for k, (state, interval_ms) in enumerate(combos):
            picked = np.flatnonzero(which.ravel() == k)
            delays = state_delays(run, memo=memo, state=int(state), interval_ms=float(interval_ms))
            out[picked] += rng.choice(delays, size=picked.size)
        return out
    q = stale_probability(
        polls_per_s=st.users[pair_state] * 1000.0 / interval, cache_ttl_s=run.stale_ms / 1000
    )
    return sample_mixture(
        base_ms=sol.response_ms[0, window],
        interval_ms=interval,
        stale=rng.random(pair_state.size) < q,
        stale_ms=run.stale_ms,
        rng=rng,
    )
