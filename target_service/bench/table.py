"""The bench's tables: medians per scenario, each target beside its measured value and
ratio, and (several servers) each server's req/s as a ratio to the first, per round."""

from __future__ import annotations

import statistics

from target_service.bench.run import MAX_ERROR_SHARE, POST_TARGET_PER_S, TARGETS, BenchResult


def _ms(value: float | None) -> str:
    return f"{value:>9.2f}" if value is not None else f"{'-':>9}"


def format_result(result: BenchResult) -> str:
    """A table of medians per scenario, then each target beside its measured value and ratio."""
    pinned = "pinned" if result.pinned else "NOT pinned: fewer than 2 CPUs"
    lines = [f"server={result.server} cache={result.cache_mode} loadgen={result.loadgen} "
             f"connections={result.connections} {result.duration_s:g} s per scenario, "
             f"service on one core ({pinned}), {len(result.rounds)} round(s), medians",
             f"{'scenario':<12}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU us':>8}"
             f"{'x ping':>8}{'x ping/CPU':>11}"]
    for name in result.rounds[0]:
        last = result.rounds[-1][name]
        ratio = result.ratio(name) if name != "ping" else 1.0
        cpu_ratio = result.cpu_ratio(name) if name != "ping" else 1.0
        cpu_us = statistics.median(r[name].get("cpu_us_per_request") or 0 for r in result.rounds)
        lines.append(f"{name:<12}{result.median_rps(name):>10.0f}{_ms(last['p50_ms'])}"
                     f"{_ms(last['p99_ms'])}{cpu_us:>8.0f}{ratio:>8.2f}{cpu_ratio:>11.2f}")
        bad = {k: v for k, v in last["statuses"].items() if not k.startswith("2")}
        if bad or last.get("socket_errors"):
            lines.append(f"{'':<12}non-2xx answers: {bad}, socket errors: "
                         f"{last.get('socket_errors', 0)}")
    lines.append("targets (ratio: median over rounds of scenario/ping req/s in the same round)")
    lines.extend(_target_lines(result))
    lines.append("x ping/CPU: the same ratio per CPU second of the service (requests per "
                 "CPU-second), which neighbours' load on a shared machine does not move; "
                 "verdicts use x ping.")
    return "\n".join(lines)


def _verdict(result: BenchResult, name: str, verdicts: dict[str, bool]) -> str:
    if verdicts[name]:
        return "PASS"
    return "FAIL" if result.clean(name) else f"FAIL (over {MAX_ERROR_SHARE:.0%} errors)"


def _target_lines(result: BenchResult) -> list[str]:
    verdicts = result.verdicts()
    ping_rps = result.median_rps("ping")
    lines = []
    for name, target in TARGETS.items():
        if name not in verdicts:
            continue
        per_round = " ".join(f"{r[name]['rps'] / r['ping']['rps']:.2f}" for r in result.rounds
                             if r["ping"]["rps"] > 0)
        lines.append(f"  {name:<11} target >= {target:.2f}x ping   measured "
                     f"{result.ratio(name):.2f}x ({result.median_rps(name):.0f} vs "
                     f"{ping_rps:.0f} req/s; rounds {per_round})   "
                     f"{_verdict(result, name, verdicts)}")
    if "post" in verdicts:
        verdict = _verdict(result, "post", verdicts)
        lines.append(f"  {'post':<11} target >= {POST_TARGET_PER_S:.0f}/s      measured "
                     f"{result.median_rps('post'):.0f}/s   {verdict}")
    return lines


def format_comparison(results: dict[str, BenchResult]) -> str:
    """``server / first server`` req/s and CPU per request, medians of per-round ratios."""
    servers = list(results)
    base = results[servers[0]]
    lines = [f"servers side by side (rounds interleaved), ratio to {servers[0]}: "
             "req/s, and CPU us per request"]
    for server in servers[1:]:
        other = results[server]
        for name in base.rounds[0]:
            rps = [o[name]["rps"] / b[name]["rps"] for b, o in zip(base.rounds, other.rounds,
                                                                   strict=True)
                   if b[name]["rps"] > 0]
            cpu = [o[name]["cpu_us_per_request"] / b[name]["cpu_us_per_request"]
                   for b, o in zip(base.rounds, other.rounds, strict=True)
                   if b[name].get("cpu_us_per_request") and o[name].get("cpu_us_per_request")]
            rps_text = f"{statistics.median(rps):.2f}x req/s" if rps else "-"
            cpu_text = f"{statistics.median(cpu):.2f}x CPU/request" if cpu else "-"
            lines.append(f"  {server:<8} {name:<11} {rps_text:>13}  {cpu_text:>19}  (rounds "
                         + " ".join(f"{r:.2f}" for r in rps) + ")")
    return "\n".join(lines)
