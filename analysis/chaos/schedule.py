"""Fault schedules: what to break, when, and for how long (pure).

``--fault KIND@START+DURATION`` (for example ``valkey:pause@30s+10s``) breaks KIND at
START seconds after the swarm's test clock started and heals it DURATION later.
Without ``--fault`` every kind runs in turn, each after a steady stretch, so every
fault starts from a settled system and its recovery is measured against a clean
pre-fault baseline.

What each kind does (the injector in :mod:`analysis.chaos.inject` carries it out):

* ``valkey:kill``: SIGKILL the service's Valkey; at healing start it again on the same
  port, empty (the stack runs it without persistence).
* ``valkey:pause``: SIGSTOP Valkey; SIGCONT at healing (connections stay open, stall).
* ``postgres:pause``: SIGSTOP every PostgreSQL process (the postmaster and each
  connection's own backend); SIGCONT all at healing.
* ``postgres:restart``: fast shutdown (SIGINT); at healing start it on the same data.
* ``postgres:kill``: SIGKILL every PostgreSQL process; at healing start it, with crash
  recovery from the WAL.
* ``service:kill-worker``: SIGKILL one of the uvicorn workers; uvicorn's supervisor
  starts a replacement by itself, so its recovery is timed from the kill (at
  START+DURATION the run checks that the worker count is whole again).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from loadtests.durations import parse_duration_s
from target_service.errors import UserError

FAULT_KINDS: tuple[str, ...] = (
    "valkey:kill",
    "valkey:pause",
    "postgres:pause",
    "postgres:restart",
    "postgres:kill",
    "service:kill-worker",
)
DEFAULT_WARMUP_S = 20.0
DEFAULT_FAULT_S = 10.0
DEFAULT_STEADY_S = 20.0
DEFAULT_TAIL_S = 20.0  # after the last healing, before the swarm stops
MIN_GAP_S = 5.0  # between one healing and the next fault: room for a pre-fault baseline
_FAULT_RE = re.compile(r"^(?P<kind>[a-z]+:[a-z-]+)@(?P<at>[^+]+)\+(?P<dur>.+)$")


@dataclass(frozen=True, slots=True)
class Fault:
    """One scheduled fault; times in seconds on the swarm's test clock."""

    kind: str
    at_s: float
    duration_s: float

    @property
    def heal_s(self) -> float:
        return self.at_s + self.duration_s

    @property
    def label(self) -> str:
        return f"{self.kind}@{self.at_s:g}s+{self.duration_s:g}s"


def parse_fault(text: str) -> Fault:
    """``KIND@START+DURATION`` -> :class:`Fault`; a readable UserError otherwise."""
    found = _FAULT_RE.match(text.strip())
    if found is None:
        raise UserError(
            f"--fault {text!r}: expected KIND@START+DURATION, e.g. valkey:pause@30s+10s"
        )
    kind = found["kind"]
    if kind not in FAULT_KINDS:
        raise UserError(f"--fault {text!r}: unknown kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
    try:
        at_s = parse_duration_s(found["at"])
        duration_s = parse_duration_s(found["dur"])
    except UserError as exc:
        raise UserError(f"--fault {text!r}: {exc}") from None
    if at_s <= 0:
        raise UserError(f"--fault {text!r}: START must be after the swarm starts (> 0 s)")
    if duration_s < 0 or duration_s > 600:
        raise UserError(f"--fault {text!r}: DURATION must be within 0..600 s")
    return Fault(kind=kind, at_s=at_s, duration_s=duration_s)


def default_schedule(
    *,
    kinds: Sequence[str] = FAULT_KINDS,
    warmup_s: float = DEFAULT_WARMUP_S,
    fault_s: float = DEFAULT_FAULT_S,
    steady_s: float = DEFAULT_STEADY_S,
) -> list[Fault]:
    """Each kind in turn: warm-up, then fault, steady, fault, steady, ..."""
    faults, at_s = [], warmup_s
    for kind in kinds:
        faults.append(Fault(kind=kind, at_s=at_s, duration_s=fault_s))
        at_s += fault_s + steady_s
    return faults


def check_schedule(faults: Iterable[Fault]) -> list[Fault]:
    """Sorted by start; refuses overlaps and gaps too short for a pre-fault baseline."""
    ordered = sorted(faults, key=lambda f: f.at_s)
    if not ordered:
        raise UserError("no fault to inject")
    if ordered[0].at_s < MIN_GAP_S:
        raise UserError(
            f"{ordered[0].label}: the first fault needs >= {MIN_GAP_S:g} s of steady load before it"
        )
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.at_s < before.heal_s + MIN_GAP_S:
            raise UserError(
                f"{after.label} starts less than {MIN_GAP_S:g} s after {before.label} heals;"
                " faults must not overlap (each one is measured against a steady baseline)"
            )
    return ordered


def swarm_duration_s(faults: Sequence[Fault], *, tail_s: float = DEFAULT_TAIL_S) -> float:
    """How long the swarm must run: past the last healing by ``tail_s``."""
    return max(f.heal_s for f in faults) + tail_s
