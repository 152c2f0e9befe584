"""The wrk driver of ``pollcap bench-service``: its script, its report parser, its verdicts.

The parser is checked on reports wrk 4.1 printed on this machine; the script and the
headers it sends are checked against the real service (a wrong Lua literal once sent
every poll without its token, and the 401s were faster than the polls).
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from target_service.bench.run import BenchResult, choose_loadgen, error_share
from target_service.bench.table import format_result
from target_service.bench.wrk import lua_script, parse_report, run_wrk, wrk_path
from target_service.embedded.stack import StackInfo
from target_service.errors import UserError
from target_service.serve import run_service

REPORT_OK = """Running 1s test @ http://127.0.0.1:18765/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.65ms    5.00ms  47.56ms   92.71%
    Req/Sec     1.04k   303.07     1.26k    90.00%
  Latency Distribution
     50%  325.00us
     75%    4.89ms
     90%    8.03ms
     99%    1.31s
  1032 requests in 1.02s, 669.19KB read
Requests/sec:   1015.65
Transfer/sec:    658.58KB
"""

REPORT_ERRORS = """Running 1s test @ http://127.0.0.1:18765/nope
  1 threads and 2 connections
  Latency Distribution
     50%    0.92ms
     75%    1.64ms
     90%    3.84ms
     99%    8.56ms
  1571 requests in 1.00s, 851.66KB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 1500
Requests/sec:   1564.81
"""

needs_wrk = pytest.mark.skipif(wrk_path() is None, reason="wrk is not installed")


def test_parse_report_reads_counts_rate_and_percentiles_in_their_units() -> None:
    run = parse_report(REPORT_OK, duration_s=1)
    assert run["requests"] == 1032 and run["seconds"] == 1.02
    assert run["rps"] == round(1032 / 1.02, 1)
    assert run["p50_ms"] == 0.325 and run["p99_ms"] == 1310.0
    assert run["statuses"] == {"2xx": 1032} and run["socket_errors"] == 0
    assert error_share(run) == 0.0


def test_parse_report_counts_non_2xx_and_socket_errors() -> None:
    run = parse_report(REPORT_ERRORS, duration_s=1)
    assert run["statuses"] == {"2xx": 71, "non-2xx": 1500}
    assert run["socket_errors"] == 5
    assert error_share(run) == pytest.approx(1505 / 1576)


def test_parse_report_rejects_a_report_without_counts() -> None:
    with pytest.raises(ValueError, match="no request count"):
        parse_report("unable to connect to 127.0.0.1:1 Connection refused", duration_s=1)


def test_lua_script_quotes_values_as_plain_strings() -> None:
    script = lua_script(requests=['GET /a?x="1"'], headers=["Authorization: Bearer t\\k"],
                        body="")
    assert 'wrk.path = "/a?x=\\"1\\""' in script
    assert 'wrk.headers["Authorization"] = "Bearer t\\\\k"' in script
    rotating = lua_script(requests=["POST /a", "POST /b"], headers=[], body='{"c": 1}')
    assert rotating.count("wrk.format(") == 2 and "request = function()" in rotating
    assert '"Content-Type"' in rotating


def _round(ping_rps: float, poll_rps: float, poll_statuses: dict[str, int]) -> dict[str, dict]:
    return {"ping": {"rps": ping_rps, "statuses": {"200": 100}, "p50_ms": 1.0, "p99_ms": 2.0},
            "poll_empty": {"rps": poll_rps, "statuses": poll_statuses, "p50_ms": 1.0,
                           "p99_ms": 2.0}}


def test_a_fast_error_answer_never_passes_a_target() -> None:
    ok = BenchResult(rounds=[_round(1000, 900, {"200": 100})] * 3)
    assert ok.verdicts() == {"poll_empty": True}
    failing = BenchResult(rounds=[_round(1000, 1200, {"2xx": 10, "non-2xx": 90})] * 3)
    assert failing.ratio("poll_empty") == pytest.approx(1.2)
    assert failing.verdicts() == {"poll_empty": False}
    table = format_result(failing)
    assert "target >= 0.80x ping   measured 1.20x" in table and "errors)" in table


def test_choose_loadgen_falls_back_to_builtin_without_wrk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    with pytest.raises(UserError, match="--loadgen"):
        choose_loadgen("ab")
    monkeypatch.setenv("PATH", str(tmp_path))
    chosen, note = choose_loadgen("wrk")
    assert chosen == "builtin" and note is not None and "wrk" in note
    assert choose_loadgen("builtin") == ("builtin", None)


@needs_wrk
def test_wrk_sends_the_headers_and_bodies_to_the_real_service(
    clean_backends: StackInfo,
) -> None:
    with run_service(redis_url=clean_backends.redis_url,
                     database_url=clean_backends.database_url) as service:
        req = urllib.request.Request(f"{service.url}/api/users", data=b'{"name": "w"}',
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            token = json.loads(resp.read())["token"]
        auth = [f"Authorization: Bearer {token}"]
        posts = run_wrk(url=service.url, requests=["POST /api/chat/w1/messages",
                                                   "POST /api/chat/w2/messages"],
                        headers=auth, body='{"content": "from wrk"}', connections=2,
                        duration_s=1, warmup_s=0, cpu=None)
        polls = run_wrk(url=service.url, requests=["GET /api/chat/w1/messages?after=0"],
                        headers=auth, body="", connections=2, duration_s=1, warmup_s=0,
                        cpu=None)
        anonymous = run_wrk(url=service.url, requests=["GET /api/chat/w1/messages"],
                            headers=[], body="", connections=1, duration_s=1, warmup_s=0,
                            cpu=None)
        counts = []
        for channel in ("w1", "w2"):
            meta = urllib.request.Request(f"{service.url}/api/chat/{channel}",
                                          headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(meta, timeout=10) as resp:
                counts.append(json.loads(resp.read())["messageCount"])
    for run in (posts, polls):
        assert run["requests"] > 0 and error_share(run) == 0.0, run
    assert anonymous["requests"] > 0 and error_share(anonymous) == 1.0, anonymous
    # both channels rotated; every counted POST committed (some in flight at the end too)
    assert min(counts) >= 1 and sum(counts) >= posts["requests"]
