"""Scenario options (registered on Locust's own parser) and the per-process scenario state.

Options go through ``events.init_command_line_parser`` so plain
``locust -f loadtests/locustfile.py --host URL`` (web UI included) knows them,
and ``pollcap swarm`` passes the same flags to its Locust subprocess.
:class:`Scenario` is what the users share inside one Locust process: the parsed
options, the client policy, the channel table and the recorder.
"""

from __future__ import annotations

import os
import random
import re
import socket
import weakref
from dataclasses import dataclass, field
from typing import Any

from locust.env import Environment
from locust.runners import MasterRunner

from loadtests.clients.providers.base import GAUGE
from loadtests.recording.recorder import Recorder, new_run_id
from target_service.policy import ThresholdPolicy, load_policy

SERVER_POLICY = "server"
CLIENT_POLICIES = ("fixed-2s", "seed-dynamic", "seed-optimal", SERVER_POLICY)
NOTIFICATION_INTERVAL_MS = 10_000  # useNotifications
DEFAULT_ADMIN_TOKEN = "pollcap-admin"


def add_arguments(parser: Any) -> None:
    """Register the scenario's options on Locust's parser (``init_command_line_parser``)."""
    add = parser.add_argument  # Locust's own (groups would drop its web-UI keywords)
    add("--run-id", default="", help="Run id scoping the Redis keys (default: generated)")
    add(
        "--redis-url",
        default=os.environ.get("POLLCAP_REDIS_URL", ""),
        help="Redis for samples and counters; empty = no recording",
    )
    add(
        "--no-record",
        action="store_true",
        default=False,
        help="Do not record samples in Redis (bench baseline)",
    )
    add(
        "--no-delivery-rows",
        action="store_true",
        default=False,
        help="Do not add delivery-latency rows to Locust's stats",
    )
    add(
        "--client-policy",
        default="fixed-2s",
        include_in_web_ui=True,
        help=f"Chat poll interval: {', '.join(CLIENT_POLICIES)} or a policy JSON file",
    )
    add("--channels", type=int, default=10, include_in_web_ui=True, help="Number of channels")
    add(
        "--channel-skew",
        type=float,
        default=1.0,
        help="Zipf exponent of channel popularity (0 = uniform; 1 = a few busy channels)",
    )
    add("--channel-prefix", default="", help="Channel id prefix (default: from the run id)")
    add(
        "--sender-share",
        type=float,
        default=0.1,
        include_in_web_ui=True,
        help="Share of chat users that also send messages",
    )
    add(
        "--send-rate-per-min",
        type=float,
        default=6.0,
        help="Messages per minute per sender (Poisson)",
    )
    add(
        "--notification-rate-per-s",
        type=float,
        default=1.0,
        help="Notifications created per second by the producer (0 = none)",
    )
    add(
        "--admin-token",
        default=os.environ.get("POLLCAP_ADMIN_TOKEN", DEFAULT_ADMIN_TOKEN),
        is_secret=True,
        help="X-Admin-Token for the notification producer",
    )
    add(
        "--notification-interval-ms",
        type=int,
        default=NOTIFICATION_INTERVAL_MS,
        help="Notification poll interval",
    )
    add(
        "--hidden-share",
        type=float,
        default=0.0,
        help="Share of time a tab is hidden (no polling), in random spells",
    )
    add("--hidden-mean-s", type=float, default=30.0, help="Mean hidden spell")
    add("--offline-share", type=float, default=0.0, help="Share of time offline, in spells")
    add("--offline-mean-s", type=float, default=15.0, help="Mean offline spell")
    add(
        "--jitter",
        type=float,
        default=0.05,
        help="Relative jitter of each poll interval (keeps users out of lockstep)",
    )
    add("--page-limit", type=int, default=50, help="limit= of chat polls (catch-up page size)")
    add(
        "--realtime",
        default="",
        include_in_web_ui=True,
        help="Transport: polling | long-poll | sse | websocket "
        "(default: env REALTIME, websocket -> WebSocket, else polling)",
    )
    add(
        "--reconnect-every-s",
        type=float,
        default=0.0,
        help="Drop each connection after an exponential time with this mean and resume it "
        "(0 = never)",
    )
    add(
        "--shape",
        default="constant",
        help="constant | step:start=,step=,hold=,max= | spike:base=,peak=,at=,hold=",
    )


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
    user_ids: list[object] = field(default_factory=list)  # users signed up in this process

    @property
    def record(self) -> bool:
        return self.recorder is not None

    def pick_channel(self, rng: random.Random) -> str:
        return rng.choices(self.channels, weights=self.weights)[0]

    def add_user(self, user_id: object) -> None:
        self.user_ids.append(user_id)
        if self.recorder is not None:
            self.recorder.add_user(user_id)

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
    if opts.redis_url and not opts.no_record and not is_master:
        process = f"{socket.gethostname()}-{os.getpid()}"

        peak = [0]

        def live() -> dict[str, str | int | float]:
            runner = environment.runner
            peak[0] = max(peak[0], GAUGE.open_now)
            return {
                f"users:{process}": runner.user_count if runner is not None else 0,
                f"connections:{process}": GAUGE.open_now,
                f"connections_peak:{process}": peak[0],
            }

        recorder = Recorder(redis_url=opts.redis_url, run_id=run_id, live=live, process=process)
    return Scenario(
        options=opts,
        run_id=run_id,
        policy=policy,
        channels=channels,
        weights=channel_weights(channels=len(channels), skew=opts.channel_skew),
        recorder=recorder,
    )
