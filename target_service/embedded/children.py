"""The servers we launch, as children: set-up before exec, PID records, stop.

A child gets a parent-death signal (so killing the parent with SIGKILL takes it down at
once) and, as root, leaves root for PostgreSQL's sake: a new user namespace, or uid
``nobody`` where user namespaces are not allowed. The run folder's ``pids.json`` names
the owner and its children, so a later start can stop the leftovers of a crashed run
(``pid_is`` checks the command line: PIDs get reused).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

PR_SET_PDEATHSIG = 1
CLONE_NEWUSER = 0x10000000
PIDS_FILE = "pids.json"
POLL_S = 0.02
_CMDLINE_MARK = {"valkey": b"valkey-server", "postgres": b"pginstall/bin/postgres"}


@dataclass(slots=True)
class Launched:
    kind: str  # "valkey" | "postgres"
    popen: subprocess.Popen[bytes]
    url: str
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid


def set_parent_death_signal(sig: int) -> None:
    """In a forked child: receive ``sig`` when the parent dies (so no server outlives us)."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def child_setup(*, death_signal: int, drop_root: str | None) -> Callable[[], None]:
    def setup() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if drop_root == "userns":
            if libc.unshare(CLONE_NEWUSER) != 0:
                os._exit(97)
        elif drop_root == "nobody":
            user = pwd.getpwnam("nobody")
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
        # After any credential change: a change clears the parent-death signal.
        set_parent_death_signal(death_signal)

    return setup


_root_mode: str | None = None


def root_mode() -> str | None:
    """How PostgreSQL escapes root here: None (not root), "userns" or "nobody"."""
    global _root_mode
    if os.geteuid() != 0:
        return None
    if _root_mode is None:
        probe = subprocess.run(
            ["true"],
            preexec_fn=child_setup(death_signal=signal.SIGKILL, drop_root="userns"),
            check=False,
        )
        _root_mode = "userns" if probe.returncode == 0 else "nobody"
    return _root_mode


def signal_server(launched: Launched, sig: int) -> None:
    """Send ``sig`` to the server and every process it forked, the server first.

    Not ``killpg``: each PostgreSQL backend calls ``setsid()`` and leads a process group
    of its own. Stopped first, the postmaster cannot fork a backend we would miss.
    """
    try:
        root = psutil.Process(launched.pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for proc in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(sig)


def stop_child(launched: Launched, *, timeout_s: float) -> None:
    """Stop one server: its own fast-shutdown signal first (PostgreSQL SIGINT, Valkey
    SIGTERM), then SIGQUIT, then SIGKILL."""
    popen = launched.popen
    if popen.poll() is not None:
        return
    first = signal.SIGINT if launched.kind == "postgres" else signal.SIGTERM
    for sig, wait_s in ((first, timeout_s), (signal.SIGQUIT, 2.0), (signal.SIGKILL, 2.0)):
        try:
            popen.send_signal(sig)
            popen.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def write_pids(run_dir: Path, launched: list[Launched]) -> None:
    record = {"owner": os.getpid(), "children": [[item.pid, item.kind] for item in launched]}
    tmp = run_dir / (PIDS_FILE + ".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, run_dir / PIDS_FILE)


def read_pids(run_dir: Path) -> tuple[int, list[tuple[int, str]]] | None:
    try:
        record = json.loads((run_dir / PIDS_FILE).read_text())
        return int(record["owner"]), [(int(pid), str(kind)) for pid, kind in record["children"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def pid_is(pid: int, kind: str) -> bool:
    """True when ``pid`` is still a server of ``kind`` (PIDs get reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return _CMDLINE_MARK[kind] in cmdline and pid_alive(pid)


def wait_gone(pid: int, kind: str, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while pid_is(pid, kind) and time.monotonic() < deadline:
        time.sleep(POLL_S)
