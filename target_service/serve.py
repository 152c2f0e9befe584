"""Run the service under uvicorn (or granian) in a subprocess, for the CLI, load tests, tests.

``run_service(...)`` starts ``uvicorn target_service.app:create_app --factory`` (or
``granian --interface asgi --factory``, ``server="granian"``) with the
settings passed as ``POLLCAP_*`` variables (so every worker builds the same Settings),
waits until ``/healthz`` answers, yields a :class:`ServiceHandle`, and on exit stops the
whole process group (master and workers): no orphans, even after SIGKILL of the parent
(the master gets a parent-death signal).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from target_service.embedded.children import set_parent_death_signal
from target_service.embedded.ports import (  # noqa: F401  (free_port re-exported for callers)
    check_port_free,
    free_port,
)
from target_service.errors import UserError
from target_service.policy import PolicyError, load_policy
from target_service.realtime.contract import (
    WS_MAX_FRAME_BYTES,
    WS_PING_INTERVAL_S,
    WS_PING_TIMEOUT_S,
)
from target_service.settings import CACHE_MODES

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ServiceHandle:
    url: str
    port: int
    pid: int  # the uvicorn master (with workers=1, the process serving requests)
    log_path: Path | None

    @property
    def pids(self) -> list[int]:
        """The master and its workers, as running now."""
        try:
            master = psutil.Process(self.pid)
            return [self.pid, *(p.pid for p in master.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    @property
    def worker_pids(self) -> list[int]:
        """The processes that serve requests (the master itself when workers=1)."""
        try:
            master = psutil.Process(self.pid)
            children, master_cmdline = master.children(), master.cmdline()
        except psutil.NoSuchProcess:
            return []
        workers = []
        for child in children:  # skip multiprocessing's resource tracker
            try:
                cmdline = child.cmdline()
                # uvicorn spawns its workers; granian forks them (same command line)
                if any("spawn_main" in part for part in cmdline) or cmdline == master_cmdline:
                    workers.append(child.pid)
            except psutil.NoSuchProcess:
                continue
        return workers or [self.pid]


def service_env(
    *, redis_url: str, database_url: str, policy: str, cache_mode: str,
    env: dict[str, str] | None = None,
) -> dict[str, str]:
    try:
        load_policy(policy)
    except PolicyError as exc:
        raise UserError(str(exc)) from None
    if cache_mode not in CACHE_MODES:
        raise UserError(f"--cache must be one of {', '.join(CACHE_MODES)}, got {cache_mode!r}")
    policy_path = Path(policy)
    if policy_path.exists():
        policy = str(policy_path.resolve())
    return {
        **os.environ,
        "POLLCAP_REDIS_URL": redis_url,
        "POLLCAP_DATABASE_URL": database_url,
        "POLLCAP_POLICY": policy,
        "POLLCAP_CACHE_MODE": cache_mode,
        **(env or {}),
    }


WS_IMPLEMENTATIONS = ("websockets", "websockets-sansio", "wsproto")
DEFAULT_WS = "wsproto"  # the lightest per idle connection (README: measured memory per connection)
SERVERS = ("uvicorn", "granian")


def server_command(*, server: str, host: str, port: int, workers: int,
                   ws: str = DEFAULT_WS) -> list[str]:
    """The command line of the ASGI server: uvicorn (the default) or granian."""
    if server == "granian":
        if importlib.util.find_spec("granian") is None:
            raise UserError("--server granian needs the granian package (pip install granian)")
        return granian_command(host=host, port=port, workers=workers)
    if server != "uvicorn":
        raise UserError(f"server must be one of {', '.join(SERVERS)}, got {server!r}")
    return uvicorn_command(host=host, port=port, workers=workers, ws=ws)


def granian_command(*, host: str, port: int, workers: int) -> list[str]:
    """Granian (Rust HTTP, ASGI interface, uvloop); its workers are child processes.

    Granian has its own WebSocket implementation: the ``ws`` choice and the frame-size and
    ping settings below are uvicorn's.
    """
    return [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--no-access-log", "--log-level", "warning",
        "--workers-kill-timeout", "5", "target_service.app:create_app",
    ]


def uvicorn_command(*, host: str, port: int, workers: int, ws: str = DEFAULT_WS) -> list[str]:
    """WebSockets: no compression (per-message-deflate costs ~50 KiB per connection)."""
    return [
        sys.executable, "-m", "uvicorn", "target_service.app:create_app", "--factory",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log",
        "--no-proxy-headers",  # nothing reads the client address; saves a layer per request
        "--log-level", "warning", "--timeout-graceful-shutdown", "5",
        "--ws", ws, "--ws-max-size", str(WS_MAX_FRAME_BYTES), "--ws-per-message-deflate", "false",
        "--ws-ping-interval", str(WS_PING_INTERVAL_S), "--ws-ping-timeout", str(WS_PING_TIMEOUT_S),
    ]


def _preexec(cpu_affinity: Sequence[int] | None):
    def setup() -> None:
        if cpu_affinity:
            os.sched_setaffinity(0, set(cpu_affinity))
        set_parent_death_signal(signal.SIGTERM)

    return setup


@contextmanager
def run_service(
    *,
    redis_url: str,
    database_url: str,
    port: int | None = None,
    workers: int = 1,
    policy: str = "fixed-2s",
    cache_mode: str = "fresh",
    cpu_affinity: Sequence[int] | None = None,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    log_path: Path | None = None,
    ready_timeout_s: float = READY_TIMEOUT_S,
    ws: str = DEFAULT_WS,
    server: str = "uvicorn",
) -> Iterator[ServiceHandle]:
    if workers < 1:
        raise UserError(f"workers must be at least 1, got {workers}")
    if ws not in WS_IMPLEMENTATIONS:
        raise UserError(f"ws must be one of {', '.join(WS_IMPLEMENTATIONS)}, got {ws!r}")
    environ = service_env(redis_url=redis_url, database_url=database_url, policy=policy,
                          cache_mode=cache_mode, env=env)
    if server not in SERVERS:
        raise UserError(f"server must be one of {', '.join(SERVERS)}, got {server!r}")
    if port:
        check_port_free(port, host=host)
    port = port or free_port(host)
    temp_log = log_path is None  # a file, not a pipe: a full pipe would stall the service
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="pollcap-service-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(
            server_command(server=server, host=host, port=port, workers=workers, ws=ws),
            env=environ,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True, preexec_fn=_preexec(cpu_affinity),
        )
    url = f"http://{host}:{port}"
    try:
        _wait_healthy(url, popen, timeout_s=ready_timeout_s, log_path=log_path)
        yield ServiceHandle(url=url, port=port, pid=popen.pid,
                            log_path=None if temp_log else log_path)
    finally:
        terminate_group(popen)
        if temp_log:
            log_path.unlink(missing_ok=True)


def _wait_healthy(
    url: str, popen: subprocess.Popen[bytes], *, timeout_s: float, log_path: Path | None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise UserError(f"the service exited while starting (code {popen.returncode})"
                            f"{_tail(popen, log_path)}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise UserError(f"the service did not become healthy within {timeout_s:.0f} s at {url}")


def _tail(popen: subprocess.Popen[bytes], log_path: Path | None) -> str:
    text = ""
    if log_path is not None and log_path.exists():
        text = log_path.read_text(errors="replace")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return f": {lines[-1]}" if lines else ""


def terminate_group(popen: subprocess.Popen[bytes]) -> None:
    """SIGTERM the service's process group, SIGKILL what is left after the timeout.

    Returns once every process of the group is gone (workers orphaned by the master's
    exit are reaped by init a moment later; callers count on them being gone).
    """
    try:
        group = psutil.Process(popen.pid).children(recursive=True)
    except psutil.Error:
        group = []
    if popen.poll() is None:
        try:
            os.killpg(popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            popen.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(popen.pid, signal.SIGKILL)  # workers the master did not take down
    except (ProcessLookupError, PermissionError):
        pass
    if popen.poll() is None:
        popen.wait(timeout=STOP_TIMEOUT_S)
    psutil.wait_procs(group, timeout=STOP_TIMEOUT_S)


def wait_for_interrupt() -> None:
    """Block until SIGINT or SIGTERM; both end in a clean stop of what we started.

    The handlers are set again because a shell starts a background job (``&``) with
    SIGINT ignored; SIGTERM becomes KeyboardInterrupt too, so ``kill PID`` unwinds the
    same ``with`` blocks as Ctrl-C.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
