"""Defaults shared by the commands, in a module light enough for ``pollcap --help``."""

from pathlib import Path

REPORTS_DIR = Path("reports")
RUNS_DIR = Path("runs")
SLO_P95_MS = 3000.0  # p95 delivery latency SLO (ms): a message shows within 3 s
