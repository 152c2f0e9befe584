"""The report bench: how long one report takes to build from a synthetic run."""

from __future__ import annotations

from pathlib import Path

from analysis.report.render import build_report
from analysis.synthetic import synthetic_capacity_data

REPORT_TARGET_S = 10.0


def bench_report(*, samples: int = 1_000_000, out_dir: Path) -> dict[str, float | int | bool]:
    """Build a report from a synthetic 8-step run with about ``samples`` poll samples.

    Times ``build_report`` alone (analysis, bootstrap, figures, HTML, JSON);
    ``ratio_to_target`` < 1 is within the 10 s target.
    """
    users = (200, 600, 1200, 2000, 2800, 3600, 4400, 5200)
    step_s = samples * 2.4 / sum(users)  # 2 s polls, fewer once saturated
    data = synthetic_capacity_data(run_id="bench-report", users=users, step_s=step_s,
                                   n_channels=500, sigma=0.0005, kappa=2e-7, lambda_=2.0)
    files = build_report(data, out_dir=out_dir)
    total = sum(len(frame) for frame in data.samples.values())
    return {"samples": total, "build_s": round(files.elapsed_s, 3), "target_s": REPORT_TARGET_S,
            "ratio_to_target": round(files.elapsed_s / REPORT_TARGET_S, 3),
            "ok": files.elapsed_s <= REPORT_TARGET_S}
