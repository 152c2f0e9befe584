"""A chaos run's verdict: per-fault errors, longest request, time to recover, accounting.

Each fault owns the *phase* from its injection to the next fault's injection (or the
end of the swarm): the sends that started in it, the requests that ended in it. Its
pre-fault baseline is the steady stretch before it (at most ``BASELINE_S``, starting
no earlier than halfway between the previous healing and this fault).

The run fails (exit 1) when an acknowledged message was lost, a message was stored
twice, or a request took longer than the deadline plus its slack. Recovery times are
checked against their targets too and reported, but do not change the exit code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.chaos.accounting import (
    Stored,
    account,
    receiver_gaps,
    receivers_from,
    totals,
    unrecorded,
)
from analysis.chaos.inject import FaultWindow
from analysis.chaos.readback import RunSamples
from analysis.chaos.recovery import (
    Deliveries,
    Requests,
    baseline,
    longest_ms,
    time_to_recover_s,
    timeline,
)
from loadtests.clients.names import POLL_NAME, SEND_NAME
from loadtests.clients.providers.long_poll import LONG_POLL_NAME
from loadtests.clients.providers.push import CONNECT_NAME
from loadtests.clients.providers.websocket import SEND_NAME as WS_SEND_NAME

BASELINE_S = 10.0
WARMUP_S = 5.0  # skipped at the start of the swarm (users still signing up)
MAX_LISTED = 20  # examples of each anomaly kept in the report
CHAT_ERROR_NAMES = (POLL_NAME, SEND_NAME, WS_SEND_NAME, LONG_POLL_NAME, CONNECT_NAME)


@dataclass(frozen=True, slots=True)
class Limits:
    deadline_s: float = 5.0
    deadline_slack_s: float = 1.0
    valkey_recover_s: float = 5.0
    postgres_recover_s: float = 10.0
    service_recover_s: float = 5.0

    def recover_target_s(self, kind: str) -> float:
        target = kind.split(":")[0]
        return {"valkey": self.valkey_recover_s, "postgres": self.postgres_recover_s}.get(
            target, self.service_recover_s
        )


def requests_of(samples: RunSamples) -> Requests:
    """Chat requests: successful polls, failed chat requests (polls, sends, held long-polls,
    push connects: every transport's), acknowledged sends."""
    polls, errors = samples.polls, samples.errors
    chat_errors = errors[errors["name"].isin(CHAT_ERROR_NAMES)]
    ok_sends = [s for s in samples.sends if s.outcome == "ok"]
    return Requests.of(
        np.concatenate([polls["t_ms"], chat_errors["t_ms"], [s.ended_ms for s in ok_sends]]),
        np.concatenate([np.ones(len(polls), bool), np.zeros(len(chat_errors), bool),
                        np.ones(len(ok_sends), bool)]),
        np.concatenate([polls["latency_ms"], chat_errors["latency_ms"],
                        [s.longest_ms for s in ok_sends]]),
    )


def all_latencies(samples: RunSamples) -> Requests:
    """Every request of the run, chat or not, for the longest-request checks.

    A failed long-poll is left out: the service holds it up to ``waitMs`` (25 s) by
    design, so its length says nothing about a deadline.
    """
    errors = samples.errors
    errors = errors[errors["name"] != LONG_POLL_NAME]
    return Requests.of(
        np.concatenate([samples.polls["t_ms"], errors["t_ms"],
                        [s.ended_ms for s in samples.sends]]),
        np.zeros(len(samples.polls) + len(errors) + len(samples.sends), bool),
        np.concatenate([samples.polls["latency_ms"], errors["latency_ms"],
                        [s.longest_ms for s in samples.sends]]),
    )


def evaluate(
    *, samples: RunSamples, stored: Sequence[Stored], windows: Sequence[FaultWindow],
    t0_ms: float, end_ms: float, limits: Limits = Limits(),
) -> dict[str, Any]:
    requests = requests_of(samples)
    everything = all_latencies(samples)
    msgs = samples.messages
    deliveries = Deliveries.of(msgs["t_ms"], msgs["latency_ms"])
    receivers = receivers_from(polls=samples.polls, deliveries=msgs)
    frame = account(sends=samples.sends, stored=stored, receivers=receivers)
    faults = []
    prev_heal_ms = t0_ms
    for i, window in enumerate(windows):
        phase_end = windows[i + 1].injected_ms if i + 1 < len(windows) else end_ms
        faults.append(_fault_row(
            window=window, phase_end_ms=phase_end, prev_heal_ms=prev_heal_ms, t0_ms=t0_ms,
            requests=requests, everything=everything, deliveries=deliveries, frame=frame,
            samples=samples, limits=limits,
        ))
        prev_heal_ms = window.healed_ms or window.injected_ms
    first = windows[0].injected_ms if windows else end_ms
    limit_ms = (limits.deadline_s + limits.deadline_slack_s) * 1000.0
    over = everything.latency_ms > limit_ms
    gaps = receiver_gaps(stored=stored, receivers=receivers)
    overall = totals(frame)
    result = {
        "limits": asdict(limits),
        "t0_ms": t0_ms,
        "end_ms": end_ms,
        "totals": overall,
        "before_faults": totals(frame[frame["started_ms"] < first]),
        "unrecorded_stored": unrecorded(stored=stored, refs=set(frame["ref"])),
        "unrecorded_examples": [
            {"channel": row.channel, "seq": row.seq, "ref": row.ref}
            for row in stored if row.ref is None or row.ref not in set(frame["ref"])
        ][:MAX_LISTED],
        "stored_messages": len(stored),
        "receivers": len(receivers),
        "receiver_gaps": dict(list(gaps.items())[:MAX_LISTED]),
        "receivers_with_gaps": len(gaps),
        "longest_request_ms": round(float(everything.latency_ms.max(initial=0.0)), 1),
        "requests_over_deadline": int(over.sum()),
        "faults": faults,
        "examples": _examples(frame),
    }
    result["failures"] = failures(result)
    result["passed"] = not result["failures"]
    return result


def _fault_row(
    *, window: FaultWindow, phase_end_ms: float, prev_heal_ms: float, t0_ms: float,
    requests: Requests, everything: Requests, deliveries: Deliveries, frame: pd.DataFrame,
    samples: RunSamples, limits: Limits,
) -> dict[str, Any]:
    inject_ms = window.injected_ms
    heal_ms = window.healed_ms or inject_ms
    base_start = max(inject_ms - BASELINE_S * 1000, (prev_heal_ms + inject_ms) / 2,
                     t0_ms + WARMUP_S * 1000)
    base = baseline(requests=requests, deliveries=deliveries, start_ms=base_start,
                    end_ms=inject_ms)
    recover_s = time_to_recover_s(requests=requests, deliveries=deliveries, heal_ms=heal_ms,
                                  until_ms=phase_end_ms, base=base)
    errors = samples.errors["t_ms"].to_numpy()
    phase = frame[(frame["started_ms"] >= inject_ms) & (frame["started_ms"] < phase_end_ms)]
    target_s = limits.recover_target_s(window.fault.kind)
    return {
        "fault": window.fault.label,
        "kind": window.fault.kind,
        "detail": window.detail,
        "injected_ms": inject_ms,
        "healed_ms": heal_ms,
        "ready_ms": window.ready_ms,
        "phase_end_ms": phase_end_ms,
        "baseline": asdict(base),
        "errors": int(((errors >= inject_ms) & (errors < phase_end_ms)).sum()),
        "longest_request_ms": round(longest_ms(everything, start_ms=inject_ms,
                                               end_ms=phase_end_ms), 1),
        "recover_s": recover_s,
        "recover_target_s": target_s,
        "recovered_in_time": recover_s is not None and recover_s <= target_s,
        **totals(phase),
    }


def _examples(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for column in ("acknowledged_lost", "duplicated", "recovered", "failed_present"):
        rows = frame[frame[column]].head(MAX_LISTED)
        out[column] = [
            {"ref": r.ref, "channel": r.channel, "outcome": r.outcome,
             "seq": None if pd.isna(r.seq) else int(r.seq), "stored": int(r.stored),
             "receivers_missed": int(r.receivers_missed)}
            for r in rows.itertuples(index=False)
        ]
    return out


def failures(result: dict[str, Any]) -> list[str]:
    """Why the run fails (exit 1): empty when it passed."""
    found = []
    got = result["totals"]
    if got["acknowledged_lost"]:
        found.append(f"{got['acknowledged_lost']} acknowledged message(s) lost "
                     f"({got['lost_from_store']} missing from the store, "
                     f"{got['undelivered']} never delivered to a receiver)")
    if got["duplicated"]:
        found.append(f"{got['duplicated']} message(s) stored more than once")
    if result["requests_over_deadline"]:
        limits = result["limits"]
        found.append(
            f"{result['requests_over_deadline']} request(s) took longer than the deadline "
            f"{limits['deadline_s']:g} s + {limits['deadline_slack_s']:g} s "
            f"(longest {result['longest_request_ms'] / 1000:.1f} s)"
        )
    return found


def timeline_of(samples: RunSamples, *, t0_ms: float) -> pd.DataFrame:
    msgs = samples.messages
    return timeline(requests=requests_of(samples),
                    deliveries=Deliveries.of(msgs["t_ms"], msgs["latency_ms"]), t0_ms=t0_ms)
