"""The scenario's options as one table: Locust's parser, the swarm's flags, ScenarioParams.

Each :class:`ScenarioOption` row (name, type, default, help, unit) generates

* an argument on Locust's own parser (:func:`add_locust_arguments`, called from the
  locustfile's ``init_command_line_parser``), so plain ``locust -f`` knows it;
* a flag of ``pollcap swarm`` (``analysis.cli.scenario_flags`` builds its typer options from
  :data:`SWARM_OPTIONS`);
* for workload rows, a field of :class:`ScenarioParams` and its flag in
  :meth:`ScenarioParams.to_args`, the command line the swarm gives Locust.

Durations (unit ``s``) take the one duration format (``30s``, ``2m``; see
:mod:`loadtests.durations`); their flag drops the ``_s`` of the attribute name
(``hidden_mean_s`` is ``--hidden-mean 30s``). Every other unit stays in the flag
(``--notification-rate-per-s``). This module imports neither Locust nor typer.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields
from typing import Any

from loadtests.durations import format_duration, parse_duration_s
from target_service.errors import UserError

SERVER_POLICY = "server"
CLIENT_POLICIES = ("fixed-2s", "seed-dynamic", "seed-optimal", SERVER_POLICY)
DEFAULT_ADMIN_TOKEN = "pollcap-admin"  # the service's Settings.admin_token default
DURATION_UNIT = "s"
DEFAULT_SEED = 1  # fixed: two runs of the same code draw the same workload


@dataclass(frozen=True, slots=True)
class ScenarioOption:
    """One scenario option. ``workload`` rows are :class:`ScenarioParams` fields; the
    others (run id, Redis URL, client policy, shape) are passed by the swarm itself."""

    name: str  # attribute on Locust's parsed options (and on ScenarioParams)
    type: type  # int | float | str | bool (bool: a switch, on by default or off)
    default: Any
    help: str
    unit: str = ""  # "s": a duration option; others are shown in the help
    workload: bool = True
    env: str | None = None  # environment variable overriding the default
    secret: bool = False  # passed to Locust through ``env``, never on its command line

    @property
    def is_duration(self) -> bool:
        return self.unit == DURATION_UNIT

    @property
    def flag(self) -> str:
        """The command-line flag (for a switch on by default: the one turning it off)."""
        base = self.name.removesuffix("_s") if self.is_duration else self.name
        prefix = "--no-" if self.type is bool and self.default else "--"
        return prefix + base.replace("_", "-")

    def default_now(self) -> Any:
        """The default, with the environment variable applied (read when asked, not at import)."""
        if self.env is not None and os.environ.get(self.env):
            return os.environ[self.env]
        return self.default

    def help_text(self) -> str:
        if self.is_duration:
            return f"{self.help} (a duration: 30s, 2m)"
        return f"{self.help} ({self.unit})" if self.unit else self.help


SCENARIO_OPTIONS: tuple[ScenarioOption, ...] = (
    ScenarioOption(
        "run_id", str, "", "Run id scoping the Redis keys (default: generated)", workload=False
    ),
    ScenarioOption(
        "redis_url",
        str,
        "",
        "Redis for samples and counters; empty = no recording",
        workload=False,
        env="POLLCAP_REDIS_URL",
    ),
    ScenarioOption(
        "client_policy",
        str,
        "fixed-2s",
        f"Chat poll interval: {', '.join(CLIENT_POLICIES)} (obey pollIntervalMs) "
        "or a policy JSON file",
        workload=False,
    ),
    ScenarioOption(
        "shape",
        str,
        "constant",
        "constant | step:start=,step=,hold=,max= | spike:base=,peak=,at=,hold=",
        workload=False,
    ),
    ScenarioOption(
        "target",
        str,
        "",
        "Target description (TOML) of the service at --host: paths, cursor, fields, auth"
        " (default: the reference service's own, loadtests/targets/reference.toml)",
    ),
    ScenarioOption(
        "seed",
        int,
        DEFAULT_SEED,
        "Seed of every tab's random draws (sender or not, channel, jitter, spells): tab i of"
        " Locust process w draws from (seed, w, i), so the same seed repeats the workload",
    ),
    ScenarioOption("channels", int, 10, "Number of chat channels"),
    ScenarioOption(
        "channel_skew", float, 1.0, "Zipf exponent of channel popularity (0 = uniform)"
    ),
    ScenarioOption("channel_prefix", str, "", "Channel id prefix (default: from the run id)"),
    ScenarioOption("sender_share", float, 0.1, "Share of chat users that also send messages"),
    ScenarioOption("send_rate_per_min", float, 6.0, "Messages per sender (Poisson)", "1/min"),
    ScenarioOption(
        "notification_rate_per_s",
        float,
        1.0,
        "Notifications created by the producer, 0 = none",
        "1/s",
    ),
    ScenarioOption(
        "notification_interval_s",
        float,
        10.0,
        "Unread-notification poll interval (useNotifications)",
        DURATION_UNIT,
    ),
    ScenarioOption(
        "admin_token",
        str,
        DEFAULT_ADMIN_TOKEN,
        "X-Admin-Token of the notification producer",
        env="POLLCAP_ADMIN_TOKEN",
        secret=True,
    ),
    ScenarioOption(
        "hidden_share", float, 0.0, "Share of time a tab is hidden (no polling), in spells"
    ),
    ScenarioOption("hidden_mean_s", float, 30.0, "Mean hidden spell", DURATION_UNIT),
    ScenarioOption("offline_share", float, 0.0, "Share of time offline, in spells"),
    ScenarioOption("offline_mean_s", float, 15.0, "Mean offline spell", DURATION_UNIT),
    ScenarioOption(
        "jitter", float, 0.05, "Relative jitter of each poll interval (no lockstep waves)"
    ),
    ScenarioOption("page_limit", int, 50, "limit= of chat polls (catch-up page size)", "messages"),
    ScenarioOption(
        "realtime",
        str,
        "",
        "Transport: polling | long-poll | sse | websocket (default: env REALTIME=websocket"
        " selects WebSocket, anything else polling)",
    ),
    ScenarioOption(
        "reconnect_every_s",
        float,
        0.0,
        "Drop each push connection after an exponential time with this mean and resume it"
        " (0 = never)",
        DURATION_UNIT,
    ),
    ScenarioOption(
        "record", bool, True, "Record samples and counters in Redis (off: the bench's baseline)"
    ),
    ScenarioOption(
        "record_toggle_s",
        float,
        0.0,
        "Bench: after the ramp, switch recording off and on every this long, windows aligned"
        " to the epoch (loadtests.recording.toggle), so one process measures what recording"
        " costs (0 = never)",
        DURATION_UNIT,
    ),
    ScenarioOption(
        "delivery_rows", bool, True, "Show delivery latencies as DELIVERY rows in Locust's stats"
    ),
    ScenarioOption(
        "gc_tuning",
        bool,
        True,
        "Freeze the objects alive after the ramp and collect young objects every 50k"
        " allocations (off: CPython's defaults)",
    ),
)
OPTIONS_BY_NAME: dict[str, ScenarioOption] = {o.name: o for o in SCENARIO_OPTIONS}
WORKLOAD_OPTIONS = tuple(o for o in SCENARIO_OPTIONS if o.workload)
# ``pollcap swarm`` declares run id and Redis URL itself (they also choose the stack)
SWARM_OPTIONS = tuple(o for o in SCENARIO_OPTIONS if o.name not in ("run_id", "redis_url"))


def _default(name: str) -> Any:
    return OPTIONS_BY_NAME[name].default


@dataclass(frozen=True, slots=True)
class ScenarioParams:
    """The workload rows of the table, typed (defaults come from the table).

    ``admin_token=None`` leaves the token to Locust's own default (its environment).
    """

    target: str = _default("target")  # "" = the reference service's description
    seed: int = _default("seed")
    channels: int = _default("channels")
    channel_skew: float = _default("channel_skew")
    channel_prefix: str = _default("channel_prefix")
    sender_share: float = _default("sender_share")
    send_rate_per_min: float = _default("send_rate_per_min")
    notification_rate_per_s: float = _default("notification_rate_per_s")
    notification_interval_s: float = _default("notification_interval_s")
    admin_token: str | None = None
    hidden_share: float = _default("hidden_share")
    hidden_mean_s: float = _default("hidden_mean_s")
    offline_share: float = _default("offline_share")
    offline_mean_s: float = _default("offline_mean_s")
    jitter: float = _default("jitter")
    page_limit: int = _default("page_limit")
    realtime: str = _default("realtime")  # "" = the design's REALTIME rule
    reconnect_every_s: float = _default("reconnect_every_s")
    record: bool = _default("record")
    record_toggle_s: float = _default("record_toggle_s")
    delivery_rows: bool = _default("delivery_rows")
    gc_tuning: bool = _default("gc_tuning")

    def to_args(self) -> list[str]:
        """Locust's command-line flags for these values (secrets go in :meth:`to_env`)."""
        args: list[str] = []
        for option in WORKLOAD_OPTIONS:
            value = getattr(self, option.name)
            if option.secret:
                continue
            if option.type is bool:
                if value != option.default:
                    args.append(option.flag)
            elif option.is_duration:
                args.append(f"{option.flag}={format_duration(value)}")
            else:
                args.append(f"{option.flag}={value}")
        return args

    def to_env(self) -> dict[str, str]:
        """Environment for the Locust process: the secrets that are set."""
        env: dict[str, str] = {}
        for option in WORKLOAD_OPTIONS:
            value = getattr(self, option.name)
            if option.secret and option.env is not None and value is not None:
                env[option.env] = str(value)
        return env

    def public_dict(self) -> dict[str, Any]:
        """The values without secrets (for meta.json)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not _is_secret(f.name)}


def _is_secret(name: str) -> bool:
    return OPTIONS_BY_NAME[name].secret


def _duration_arg(text: str) -> float:
    try:
        return parse_duration_s(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_locust_arguments(parser: Any) -> None:
    """Register every row on Locust's parser (``init_command_line_parser``)."""
    for option in SCENARIO_OPTIONS:
        shown = format_duration(option.default) if option.is_duration else option.default
        help_text = option.help_text() + ("" if option.secret else f"; default {shown!r}")
        kwargs: dict[str, Any] = {"dest": option.name, "help": help_text}
        if option.type is bool:
            kwargs["action"] = "store_false" if option.default else "store_true"
            kwargs["default"] = option.default
        else:
            kwargs["type"] = _duration_arg if option.is_duration else option.type
            kwargs["default"] = option.default_now()
        if option.secret:
            kwargs["is_secret"] = True
        parser.add_argument(option.flag, **kwargs)  # Locust's own (it knows is_secret)
