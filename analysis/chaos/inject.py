"""Carrying faults out on the embedded stack and the service (the I/O half of a fault).

Only what this run started is touched, by PID: the stack's own Valkey and PostgreSQL
(never the metrics Valkey) and the workers of the service it launched. Every paused
process is resumed and every stopped server started again by :meth:`Injector.heal_all`,
which the runner calls on the way out whatever happened.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from analysis.chaos.schedule import Fault
from target_service.embedded.stack import Stack
from target_service.errors import UserError
from target_service.serve import ServiceHandle

WORKER_BACK_TIMEOUT_S = 30.0
POLL_S = 0.05
BACKEND_KINDS = ("valkey", "postgres")


@dataclass(slots=True)
class FaultWindow:
    """A fault as it happened: wall-clock ms of injection and healing, and what was done."""

    fault: Fault
    injected_ms: float
    healed_ms: float | None = None
    ready_ms: float | None = None
    detail: str = ""


def now_ms() -> float:
    return time.time() * 1000.0


class Injector:
    """Injects and heals the faults of :mod:`analysis.chaos.schedule`."""

    def __init__(
        self, *, stack: Stack, service: ServiceHandle, workers: int,
        clock_ms: Callable[[], float] = now_ms,
    ) -> None:
        self.stack = stack
        self.service = service
        self.workers = workers
        self.clock_ms = clock_ms
        self._paused: set[str] = set()  # "valkey" | "postgres" while SIGSTOPped
        self._down: set[str] = set()  # ... while not running
        self._killed_worker: int | None = None

    def check(self, fault: Fault) -> None:
        """Refuse what cannot be done here (servers we did not start, a single worker)."""
        target = fault.kind.split(":")[0]
        if target in BACKEND_KINDS:
            try:
                self.stack.launched(target)
            except UserError:
                raise UserError(f"{fault.kind} needs the embedded {target} (started by"
                                " pollcap), not an external URL") from None
        if fault.kind == "service:kill-worker" and self.workers < 2:
            raise UserError("service:kill-worker needs --workers >= 2")

    def inject(self, fault: Fault) -> FaultWindow:
        self.check(fault)
        started = self.clock_ms()
        detail = self._inject(fault)
        return FaultWindow(fault=fault, injected_ms=started, detail=detail)

    def heal(self, window: FaultWindow) -> FaultWindow:
        """Heal, timed from the moment healing *begins* (SIGCONT sent, start command
        issued), so a restart's crash recovery counts in the time to recover; a killed
        worker needs no healing (uvicorn replaces it), so its recovery counts from the kill.
        ``ready_ms`` is when the healed part answered again."""
        started = self.clock_ms()
        detail = self._heal(window.fault)
        window.ready_ms = self.clock_ms()
        kill_worker = window.fault.kind == "service:kill-worker"
        window.healed_ms = window.injected_ms if kill_worker else started
        window.detail = f"{window.detail}; {detail}" if detail else window.detail
        return window

    def _inject(self, fault: Fault) -> str:
        kind = fault.kind
        if kind == "service:kill-worker":
            pids = self.service.worker_pids
            victim = pids[0]
            os.kill(victim, signal.SIGKILL)
            self._killed_worker = victim
            return f"SIGKILL worker {victim} of {len(pids)}"
        target, action = kind.split(":")
        processes = _process_count(self.stack.launched(target).pid)
        if action == "pause":
            self.stack.pause(target)
            self._paused.add(target)
            return f"SIGSTOP {processes} {target} process(es)"
        if action in ("kill", "restart"):
            self.stack.stop_server(target, kill=action == "kill")
            self._down.add(target)
            return (f"SIGKILL {processes} {target} process(es)" if action == "kill"
                    else f"fast shutdown of {target}")
        raise UserError(f"unknown fault {kind!r}")

    def _heal(self, fault: Fault) -> str:
        if fault.kind == "service:kill-worker":
            return self._wait_worker_back()
        target = fault.kind.split(":")[0]
        if target in self._paused:
            self.stack.resume(target)
            self._paused.discard(target)
            return "SIGCONT"
        if target in self._down:
            info = self.stack.start_server(target)
            self._down.discard(target)
            pid = info.redis_pid if target == "valkey" else info.postgres_pid
            return f"started again (pid {pid})"
        return ""

    def _wait_worker_back(self) -> str:
        deadline = time.monotonic() + WORKER_BACK_TIMEOUT_S
        while time.monotonic() < deadline:
            pids = self.service.worker_pids
            if len(pids) >= self.workers and self._killed_worker not in pids:
                return f"worker replaced (workers now {pids})"
            time.sleep(POLL_S)
        raise UserError(f"uvicorn did not replace the killed worker within "
                        f"{WORKER_BACK_TIMEOUT_S:.0f} s")

    def heal_all(self) -> None:
        """Resume and restart whatever is still broken (on every way out of a run)."""
        for target in list(self._paused):
            self.stack.resume(target)
            self._paused.discard(target)
        for target in list(self._down):
            try:
                self.stack.start_server(target)
            finally:
                self._down.discard(target)


def _process_count(pid: int) -> int:
    """The server and every process under it (what a pause or kill reaches)."""
    try:
        return 1 + len(psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return 0
