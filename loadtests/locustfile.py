"""One scenario: chat tabs polling a polling-realtime service, plus a notification producer.

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000 \\
        --redis-url redis://127.0.0.1:6379/0 --client-policy fixed-2s

Options are registered on Locust's own parser (the web UI shows them as custom
parameters), so plain ``locust -f`` works as usual; ``pollcap swarm`` runs this
same file headless. Samples go to Redis only when ``--redis-url`` is given.
"""

from __future__ import annotations

import json
import logging
import resource
import time
import weakref
from collections.abc import Callable
from typing import Any

from locust import LoadTestShape, events
from locust.env import Environment
from locust.runners import MasterRunner

from loadtests.clients.chat_user import ChatUser
from loadtests.clients.health import ProcessHealth, tune_gc
from loadtests.clients.limits import open_files_shortfall, raise_open_files_limit
from loadtests.clients.names import DELIVERY
from loadtests.clients.options import add_locust_arguments
from loadtests.clients.producer import NotificationProducer
from loadtests.clients.scenario import scenario_for
from loadtests.live_shape import LiveTarget
from loadtests.recording.keys import new_run_id
from loadtests.recording.toggle import RecordingToggle
from loadtests.shapes import Stage, live_bounds, parse_shape, stage_at

__all__ = ["ChatUser", "NotificationProducer", "StageShape"]
log = logging.getLogger("pollcap")
_HEALTH: weakref.WeakKeyDictionary[Environment, ProcessHealth] = weakref.WeakKeyDictionary()
_TOGGLES: weakref.WeakKeyDictionary[Environment, RecordingToggle] = weakref.WeakKeyDictionary()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    add_locust_arguments(parser)


@events.init.add_listener
def _init(environment: Environment, **_kwargs: Any) -> None:
    before, after = raise_open_files_limit()  # one socket per simulated tab
    log.info("pollcap: open files limit %d -> %d", before, after)
    # spawning_complete carries no environment: bind it here
    environment.events.spawning_complete.add_listener(_after_ramp(environment))
    opts = environment.parsed_options
    if opts is not None and not opts.run_id:
        # before any fork or spawn message, so every process shares the id
        opts.run_id = new_run_id()


def _after_ramp(environment: Environment) -> Callable[..., None]:
    def spawning_complete(**_kwargs: Any) -> None:
        if not _user_process(environment):
            return
        if _gc_tuning(environment):
            tune_gc()  # the users and their state now exist: out of the collector's sight
        period_s = float(getattr(environment.parsed_options, "record_toggle_s", 0.0) or 0.0)
        scenario = scenario_for(environment)
        if period_s > 0 and scenario.recorder is not None and environment not in _TOGGLES:
            toggle = _TOGGLES[environment] = RecordingToggle(
                scenario, period_s=period_s, requests=_request_count(environment))
            toggle.start()
            log.info("pollcap: recording switched off and on every %g s from now", period_s)

    return spawning_complete


def _request_count(environment: Environment) -> Callable[[], int]:
    """Requests this process has made so far (Locust's stats, DELIVERY rows left out)."""
    stats = environment.stats

    def count() -> int:
        return sum(e.num_requests for (_, method), e in stats.entries.items()
                   if method != DELIVERY)

    return count


def _gc_tuning(environment: Environment) -> bool:
    return bool(getattr(environment.parsed_options, "gc_tuning", False))


def _user_process(environment: Environment) -> bool:
    return environment.parsed_options is not None and not isinstance(
        environment.runner, MasterRunner
    )


@events.test_start.add_listener
def _test_start(environment: Environment, **_kwargs: Any) -> None:
    _warn_open_files(environment)
    if not _user_process(environment):
        return
    _HEALTH.setdefault(environment, ProcessHealth()).start()
    if _gc_tuning(environment):
        tune_gc()
    recorder = scenario_for(environment).recorder
    if recorder is not None:
        recorder.mark_test_start(time.time() * 1000)
        recorder.start()




@events.test_stop.add_listener
def _test_stop(environment: Environment, **_kwargs: Any) -> None:
    if not _user_process(environment):
        return
    toggle = _TOGGLES.pop(environment, None)
    if toggle is not None:
        toggle.stop()  # the recorder back in place: it ships the last samples below
    health = _HEALTH.pop(environment, None)
    figures = health.stop() if health is not None else {}
    log.info("pollcap: generator health %s", json.dumps(figures))
    if toggle is not None:
        figures["toggle"] = toggle.figures()  # the bench's recording split reads it
    scenario = scenario_for(environment)
    lost = scenario.settle_ledger()  # marker path: acknowledged yet never received
    if lost:
        log.warning("pollcap: %d acknowledged message(s) never reached a receiver", lost)
    recorder = scenario.recorder
    if recorder is not None:
        recorder.stop()  # users are already stopped: this ships the last samples
        recorder.note_generator(figures)


def _warn_open_files(environment: Environment) -> None:
    """Say before it happens when this process cannot hold a socket per user."""
    if environment.runner is None or isinstance(environment.runner, MasterRunner):
        return
    opts: Any = environment.parsed_options
    users = int(getattr(opts, "num_users", 0) or 0)
    processes = max(1, int(getattr(opts, "processes", 1) or 1))
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    reason = open_files_shortfall(users=-(-users // processes), limit=limit)
    if reason is not None:
        log.warning("pollcap: %s", reason)


class StageShape(LoadTestShape):
    """Plays the stage table built from ``--shape`` and the common -u/-r/-t options.

    ``use_common_options`` lets the web UI's user count and spawn rate drive the
    constant shape, so plain ``locust -f loadtests/locustfile.py`` behaves as usual.
    """

    use_common_options = True

    def __init__(self) -> None:
        super().__init__()
        self._stages: list[Stage] | None = None
        self._live: LiveTarget | None = None

    def reset_time(self) -> None:
        super().reset_time()
        self._stages = None  # rebuilt from the (possibly web-edited) options
        self._live = None

    def stages(self) -> list[Stage]:
        if self._stages is None:
            assert self.runner is not None
            opts: Any = self.runner.environment.parsed_options
            self._stages = parse_shape(
                getattr(opts, "shape", "constant") or "constant",
                users=int(getattr(opts, "num_users", None) or 1),
                spawn_rate=float(getattr(opts, "spawn_rate", None) or 1.0),
                duration_s=float(opts.run_time) if getattr(opts, "run_time", None) else None,
            )
        return self._stages

    def tick(self) -> tuple[int, float] | None:
        stage = stage_at(self.stages(), self.get_run_time())
        if stage is None:
            return None
        live = self.live_target(stage)
        if live is None:
            return (stage.users, stage.spawn_rate)
        users = live.users(elapsed_s=self.get_run_time())
        return None if users is None else (users, stage.spawn_rate)

    def live_target(self, stage: Stage) -> LiveTarget | None:
        """For ``--shape live:...``: the count the capacity runner asks for, from Redis."""
        assert self.runner is not None
        opts: Any = self.runner.environment.parsed_options
        spec = getattr(opts, "shape", "") or ""
        if not spec.startswith("live") or not getattr(opts, "redis_url", None):
            return None
        if self._live is None:
            import redis

            start, top = live_bounds(spec, users=int(getattr(opts, "num_users", None) or 1))
            self._live = LiveTarget(client=redis.Redis.from_url(opts.redis_url),
                                    run_id=opts.run_id, start_users=start, max_users=top,
                                    max_s=stage.end_s)
        return self._live
