"""Every Redis key of the load test, in one place (nobody else formats them).

The load test writes into the same Redis as the service (or into a metrics Redis of
its own), so its keys are scoped by run id and named apart from the service's:

* ``metrics:{run}:{type}:latency``: one sorted set of samples per type (score =
  receive time in ms since the epoch; members as in :data:`MEMBER_FIELDS`). The
  service's own handling-time sets are ``metrics:{type}:latency``, with no run id.
* ``run:{run}:counters``: hash of the run's counters (:data:`COUNTER_FIELDS`).
* ``run:{run}:meta``: hash of the run's metadata (JSON strings).
* ``run:{run}:live``: hash of each Locust process's live figures
  (``users:{process}``, ``samples:{process}``, ``polls:{process}``, push
  ``connections:{process}`` and ``connections_peak:{process}``), read by the progress
  bar and the summary; ``polls:{process}`` sums to the ``polls`` counter, so a capacity
  run can give every Locust worker's share of each step.
* ``run:{run}:users``: set of signed-up user ids (JSON), so any process's producer
  can address any process's users.
* ``run:{run}:ledger:{channel}``: the senders' ledger of a target without ``seq``
  (:mod:`loadtests.targets.ledger`): sorted set, score = acknowledgement time in ms,
  member ``{user}:{counter}`` (the send marker's sender and number).
* ``run:{run}:next_users``: string, the user count a live (knee-finding) shape holds
  next, or ``stop``; written by the capacity runner after it judges each step.
* ``run:{run}:flushes``: hash of the last flush applied per recorder
  (:mod:`loadtests.recording.increments`: a retried flush counts once).
* ``run:{run}:sends``: hash of every send's outcome by client reference (JSON records
  of :func:`loadtests.clients.sends.send_record`; the last write of a reference wins).

Failed requests are samples too, of type ``error`` (``{user}:{n}:{latency_ms}:{name}``,
score = when the request failed); they are not in :data:`SAMPLE_TYPES` (the delivery
and request samples every run reports) and are read by chaos runs.
"""

from __future__ import annotations

import random
import time

SAMPLE_TYPES: tuple[str, ...] = ("poll", "message", "notification")  # collected per run
MEMBER_FIELDS: dict[str, tuple[str, ...]] = {
    "poll": ("user", "n", "latency_ms", "channel"),
    "message": ("user", "n", "latency_ms", "channel", "seq"),
    "notification": ("user", "n", "latency_ms"),
    "reconnect": ("user", "n", "latency_ms"),  # push transports: drop -> resumed
    "error": ("user", "n", "latency_ms", "name"),  # failed requests (read by chaos runs)
}
COUNTER_FIELDS: tuple[str, ...] = (
    "messages_sent",
    "messages_delivered",
    "lost",
    "duplicated",
    "reordered",
    "notifications_created",
    "notifications_delivered",
    "errors",
    "polls",
    "poll_late_ms_sum",
    # push transports (loadtests.clients.providers)
    "connects",
    "disconnects",
    "reconnects",
    "forced_drops",
    "messages_resumed",
)
PUSH_COUNTER_FIELDS: tuple[str, ...] = COUNTER_FIELDS[-5:]
RECORDER_COMMANDS_FIELD = "recorder_commands"  # the recorder's own load on Redis
TEST_STARTED_FIELD = "test_started_at_ms"  # in run meta: when Locust's shape clock started
GENERATOR_PREFIX = "generator:"  # in run meta: one process's hub lag and GC figures
LIVE_USERS_PREFIX = "users:"
LIVE_SAMPLES_PREFIX = "samples:"
LIVE_CONNECTIONS_PREFIX = "connections:"  # push connections open now
LIVE_CONNECTIONS_PEAK_PREFIX = "connections_peak:"  # the process's own peak
LIVE_POLLS_PREFIX = "polls:"
NEXT_USERS_STOP = "stop"  # the value of run_next_users_key that ends a live shape


def new_run_id() -> str:
    """A sortable, unique-enough run id: UTC time plus 16 random bits."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{random.randrange(16**4):04x}"


def samples_key(*, run_id: str, sample_type: str) -> str:
    """The sorted set of one run's samples of one type."""
    return f"metrics:{run_id}:{sample_type}:latency"


def run_counters_key(*, run_id: str) -> str:
    return f"run:{run_id}:counters"


def run_meta_key(*, run_id: str) -> str:
    return f"run:{run_id}:meta"


def run_live_key(*, run_id: str) -> str:
    return f"run:{run_id}:live"


def run_flushes_key(*, run_id: str) -> str:
    return f"run:{run_id}:flushes"


def run_users_key(*, run_id: str) -> str:
    return f"run:{run_id}:users"


def ledger_key(*, run_id: str, channel: str) -> str:
    """The senders' ledger of one channel (acknowledged marked sends)."""
    return f"run:{run_id}:ledger:{channel}"


def run_next_users_key(*, run_id: str) -> str:
    return f"run:{run_id}:next_users"


def run_sends_key(*, run_id: str) -> str:
    """Hash: client reference -> JSON outcome record of that send (last write wins)."""
    return f"run:{run_id}:sends"


def live_users_field(process: str) -> str:
    return LIVE_USERS_PREFIX + process


def live_samples_field(process: str) -> str:
    return LIVE_SAMPLES_PREFIX + process


def live_connections_field(process: str) -> str:
    return LIVE_CONNECTIONS_PREFIX + process


def live_connections_peak_field(process: str) -> str:
    return LIVE_CONNECTIONS_PEAK_PREFIX + process


def live_polls_field(process: str) -> str:
    return LIVE_POLLS_PREFIX + process


def generator_field(process: str) -> str:
    return GENERATOR_PREFIX + process
