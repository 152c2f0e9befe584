"""Drive the bench with ``wrk`` (one thread, pinned to the client core) and read its report.

wrk is C and spends a few µs per request, so on a two-core machine it leaves the
service's core alone and measures the service, not the generator; the builtin
generator (:mod:`target_service.bench.loadgen`) is the fallback when wrk is not
installed. The functions that build the Lua script and parse wrk's text report are
pure, so they are tested on recorded output; :func:`run_wrk` only adds the processes.

wrk has no warm-up phase, so a short untimed run comes first; the measured run is a
second wrk process on fresh connections. Its statuses are what wrk reports: the number
of answers outside 2xx/3xx (``non-2xx``), the rest counted as ``2xx``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

WRK_TIMEOUT_EXTRA_S = 30.0
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)


def wrk_path() -> str | None:
    """The wrk executable, or None when it is not installed."""
    return shutil.which("wrk")


def _lua_string(text: str) -> str:
    """A double-quoted Lua literal (not a long bracket: ``t[[==[k]==]]`` would be a call)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("\r", "\\r") + '"'


def _header_pairs(headers: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for header in headers:
        name, _, value = header.partition(":")
        pairs.append((name.strip(), value.strip()))
    return pairs


def lua_script(*, requests: list[str], headers: list[str], body: str) -> str:
    """A wrk script for ``requests`` (``'METHOD /path'``), rotated per request when several.

    One request: wrk's static request (no Lua call per request, the cheapest). Several:
    a ``request()`` function cycling through pre-formatted requests.
    """
    pairs = _header_pairs(headers)
    if body:
        pairs.append(("Content-Type", "application/json"))
    header_table = "{" + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}"
                                   for k, v in pairs) + "}"
    body_lua = _lua_string(body) if body else "nil"
    if len(requests) == 1:
        method, path = requests[0].split(" ", 1)
        lines = [f"wrk.method = {_lua_string(method)}", f"wrk.path = {_lua_string(path)}"]
        lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in pairs]
        if body:
            lines.append(f"wrk.body = {body_lua}")
        return "\n".join(lines) + "\n"
    lines = ["local requests = {}"]
    for spec in requests:
        method, path = spec.split(" ", 1)
        lines.append(f"table.insert(requests, wrk.format({_lua_string(method)}, "
                     f"{_lua_string(path)}, {header_table}, {body_lua}))")
    lines += ["local i = 0", "request = function()", "  i = i % #requests + 1",
              "  return requests[i]", "end"]
    return "\n".join(lines) + "\n"


def _to_ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_report(text: str, *, duration_s: float) -> dict[str, Any]:
    """The figures of one wrk run (``--latency``), in the builtin generator's shape."""
    total = _TOTAL.search(text)
    if total is None:
        raise ValueError(f"no request count in wrk's report: {text.strip()[-300:]!r}")
    requests = int(total.group(1))
    seconds = _to_ms(total.group(2), total.group(3)) / 1000
    non_2xx_match = _NON_2XX.search(text)
    non_2xx = int(non_2xx_match.group(1)) if non_2xx_match else 0
    percentiles = {int(p): round(_to_ms(v, u), 3) for p, v, u in _PERCENTILE.findall(text)}
    statuses = {"2xx": requests - non_2xx} if requests > non_2xx else {}
    if non_2xx:
        statuses["non-2xx"] = non_2xx
    errors = _SOCKET_ERRORS.search(text)
    socket_errors = sum(int(n) for n in errors.groups()) if errors else 0
    return {
        "requests": requests,
        "total_requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(requests / seconds, 1) if seconds > 0 else 0.0,
        "statuses": statuses,
        "socket_errors": socket_errors,
        "p50_ms": percentiles.get(50),
        "p99_ms": percentiles.get(99),
        "duration_s": duration_s,
    }


def wrk_command(*, wrk: str, url: str, script: Path, connections: int,
                duration_s: float) -> list[str]:
    return [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(duration_s))}s", "--latency",
            "-s", str(script), url]


def run_wrk(
    *, url: str, requests: list[str], headers: list[str], body: str, connections: int,
    duration_s: float, warmup_s: float, cpu: int | None,
    before_measure: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """An untimed warm-up run, then the measured run; ``before_measure`` runs between."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"the bench only targets loopback, not {parts.hostname}")
    wrk = wrk_path()
    if wrk is None:
        raise FileNotFoundError("wrk is not installed")
    preexec = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None

    def once(script: Path, seconds: float) -> str:
        out = subprocess.run(
            wrk_command(wrk=wrk, url=url, script=script, connections=connections,
                        duration_s=seconds),
            capture_output=True, text=True, timeout=seconds + WRK_TIMEOUT_EXTRA_S,
            preexec_fn=preexec, check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"wrk failed: {(out.stderr or out.stdout).strip()[-500:]}")
        return out.stdout

    with tempfile.TemporaryDirectory(prefix="pollcap-wrk-") as tmp:
        script = Path(tmp) / "bench.lua"
        script.write_text(lua_script(requests=requests, headers=headers, body=body))
        if warmup_s > 0:
            once(script, warmup_s)
        if before_measure is not None:
            before_measure()
        report = once(script, duration_s)
    return parse_report(report, duration_s=duration_s)
