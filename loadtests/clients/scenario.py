"""The per-process scenario state the users of one Locust process share.

:class:`Scenario` holds the parsed options (the table in
:mod:`loadtests.clients.options`), the client policy, the channel table, the recorder,
and the target description compiled once (with, on the marker path, the senders'
ledger and this process's receivers, settled when the test stops).
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import re
import socket
import weakref
from dataclasses import dataclass, field
from typing import Any

import redis
from locust.env import Environment
from locust.runners import MasterRunner

from loadtests.clients.options import SERVER_POLICY
from loadtests.clients.providers.base import GAUGE
from loadtests.recording.keys import (
    live_connections_field,
    live_connections_peak_field,
    live_users_field,
    new_run_id,
)
from loadtests.recording.recorder import Recorder
from loadtests.targets.compiled import CompiledTarget, compile_target, reference_target
from loadtests.targets.ledger import Ledger, settle
from loadtests.targets.receive import MarkerReceiver
from target_service.policy import ThresholdPolicy, load_policy

log = logging.getLogger("pollcap")


def tab_rng(*, seed: int, worker: int, tab: int) -> random.Random:
    """Tab ``tab`` of Locust process ``worker``'s random draws, from the run's ``--seed``.

    The same (seed, worker, tab) draws the same sender choice, channel, jitter and spells
    in every run; a string seed is hashed whole (SHA-512), so neighbouring indices and
    workers get unrelated streams."""
    return random.Random(f"pollcap-tab:{seed}:{worker}:{tab}")


def worker_index(environment: Environment) -> int:
    """This process's index among the run's Locust workers (0 when it runs alone).

    Locust's master numbers its workers (``--processes`` children or workers elsewhere)
    0, 1, ... as they connect, so no two share tab indices."""
    return max(0, int(getattr(environment.runner, "worker_index", 0) or 0))


def channel_weights(*, channels: int, skew: float) -> list[float]:
    """Zipf-like popularity: channel i gets weight 1/(i+1)**skew (a few busy, many quiet)."""
    return [1.0 / (i + 1) ** skew for i in range(channels)]


@dataclass
class Scenario:
    """State shared by the users of one Locust process."""

    options: Any
    run_id: str
    policy: ThresholdPolicy | None  # None: obey the server's pollIntervalMs
    channels: list[str]
    weights: list[float]
    recorder: Recorder | None
    target: CompiledTarget = field(default_factory=reference_target)
    ledger: Ledger | None = None  # the senders' ledger (marker path, recording on)
    receivers: list[MarkerReceiver] = field(default_factory=list)  # marker path, this process
    user_ids: list[object] = field(default_factory=list)  # users signed up in this process
    seed: int = 1  # --seed (loadtests.clients.options.DEFAULT_SEED)
    worker: int = 0  # this process's Locust worker index
    _tabs: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def record(self) -> bool:
        return self.recorder is not None

    def next_tab_rng(self) -> random.Random:
        """The next tab's draws: tabs are numbered in the order this process starts them."""
        return tab_rng(seed=self.seed, worker=self.worker, tab=next(self._tabs))

    def pick_channel(self, rng: random.Random) -> str:
        return rng.choices(self.channels, weights=self.weights)[0]

    def add_user(self, user_id: object) -> None:
        self.user_ids.append(user_id)
        if self.recorder is not None:
            self.recorder.add_user(user_id)

    def settle_ledger(self) -> int:
        """At the test's end: acknowledged messages receivers missed, counted as ``lost``."""
        if self.ledger is None or not self.receivers:
            return 0
        try:
            lost = settle(self.receivers, ledger=self.ledger)
        except redis.RedisError as exc:  # the metrics Redis went away: say so, count nothing
            log.warning("pollcap: cannot read the senders' ledger (%s): loss not settled", exc)
            return 0
        if lost and self.recorder is not None:
            self.recorder.count("lost", lost)
        self.receivers.clear()
        return lost

    def random_user(self) -> object | None:
        """Any signed-up user of the run (all processes when recording), None before any."""
        if self.recorder is not None:
            found = self.recorder.random_user()
            if found is not None:
                return found
        return random.choice(self.user_ids) if self.user_ids else None


_SCENARIOS: weakref.WeakKeyDictionary[Environment, Scenario] = weakref.WeakKeyDictionary()


def scenario_for(environment: Environment) -> Scenario:
    """The process's scenario, built on first use from the parsed options."""
    found = _SCENARIOS.get(environment)
    if found is None:
        found = _build(environment)
        _SCENARIOS[environment] = found
    return found


def _build(environment: Environment) -> Scenario:
    opts: Any = environment.parsed_options
    run_id = opts.run_id or new_run_id()
    opts.run_id = run_id  # so every later reader (and the web UI) sees the same id
    policy = None if opts.client_policy == SERVER_POLICY else load_policy(opts.client_policy)
    prefix = opts.channel_prefix or "r" + re.sub(r"[^A-Za-z0-9]", "", run_id)[-20:]
    channels = [f"{prefix}-c{i}" for i in range(max(1, opts.channels))]
    is_master = isinstance(environment.runner, MasterRunner)
    recorder = None
    if opts.redis_url and opts.record and not is_master:
        process = f"{socket.gethostname()}-{os.getpid()}"
        peak = [0]

        def live() -> dict[str, str | int | float]:
            runner = environment.runner
            peak[0] = max(peak[0], GAUGE.open_now)
            return {
                live_users_field(process): runner.user_count if runner is not None else 0,
                live_connections_field(process): GAUGE.open_now,
                live_connections_peak_field(process): peak[0],
            }

        recorder = Recorder(redis_url=opts.redis_url, run_id=run_id, live=live, process=process)
    target = compile_target(getattr(opts, "target", "") or None)  # once per process
    ledger = None
    if recorder is not None and target.use_markers:
        ledger = Ledger(redis_url=opts.redis_url, run_id=run_id)
    return Scenario(
        options=opts,
        run_id=run_id,
        policy=policy,
        channels=channels,
        weights=channel_weights(channels=len(channels), skew=opts.channel_skew),
        recorder=recorder,
        target=target,
        ledger=ledger,
        seed=int(getattr(opts, "seed", 1)),
        worker=worker_index(environment),
    )
