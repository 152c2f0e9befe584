"""The lean connection's gevent I/O path: no timer per wait, yet timeouts and closes hold.

Each case runs in a fresh interpreter with gevent's monkey-patching (as Locust does),
so this test process's sockets stay unpatched.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from target_service.serve import free_port

SCRIPT = textwrap.dedent(
    """
    from gevent import monkey; monkey.patch_all()
    import json, socket, sys, time, gevent
    from loadtests.clients.leanhttp import LeanConnection
    from loadtests.bench.stub_server import run_bench_target

    port = int(sys.argv[1])
    out = {}
    with run_bench_target(port=port) as url:
        conn = LeanConnection(url, timeout_s=5)
        status, body, _ = conn.get("/healthz", {})
        out["green"] = conn._io is not None
        out["first"] = [status, body.decode()]
        big = b'{"pad":"' + b"x" * 3_000_000 + b'"}'  # several partial sends
        status, _, _ = conn.post_json("/api/notifications", big, {})
        out["big_post"] = status
        conn.close()

    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    conn = LeanConnection(silent_url, timeout_s=0.5)
    t0 = time.monotonic()
    try:
        conn.get("/x", {})
        out["timeout"] = "answered"
    except TimeoutError:
        out["timeout"] = time.monotonic() - t0

    waiting = LeanConnection(silent_url, timeout_s=30)
    result = {}
    def wait():
        try:
            waiting.get("/x", {})
        except OSError as exc:
            result["closed"] = type(exc).__name__
    g = gevent.spawn(wait)
    gevent.sleep(0.2)
    t0 = time.monotonic()
    waiting.close()  # another greenlet closes the socket the first one waits on
    g.join(timeout=5)
    out["closed"] = result.get("closed")
    out["closed_after_s"] = time.monotonic() - t0
    print(json.dumps(out))
    """
)


def test_green_path_sends_receives_times_out_and_wakes_on_close() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(free_port())],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["green"] is True  # the timer-free path is taken under gevent
    assert out["first"] == [200, '{"status":"ok"}']
    assert out["big_post"] == 201  # a 3 MB body that needs more than one send
    assert 0.5 <= out["timeout"] < 0.5 + 0.25 + 0.5  # deadline + one sweep + slack
    assert out["closed"] is not None and out["closed_after_s"] < 1.0


def test_unpatched_sockets_keep_the_usual_path() -> None:
    from loadtests.bench.stub_server import run_bench_target
    from loadtests.clients.leanhttp import LeanConnection

    with run_bench_target(port=free_port()) as url:
        conn = LeanConnection(url, timeout_s=5)
        status, _, _ = conn.get("/healthz", {})
        assert status == 200 and conn._io is None
        conn.close()
