"""Counter increments that a retried flush applies once, not twice.

A recorder flush is one pipeline. Its ``ZADD``, ``SADD`` and ``HSET`` commands
can be sent again after a failure and change nothing, but ``HINCRBY`` cannot: if
Redis applied a batch and only its reply was lost (a timeout, a dropped
connection), sending the increments again counted them twice. So each flush's
increments go out as one Lua script with the recorder's flush number. Redis
remembers the last number applied per recorder (``{process}:{random token}``, so a
reused run id starts afresh) in ``run:{run}:flushes``, and
applies a batch only if its number is newer. A batch that failed is re-sent
word for word (same number) ahead of the next flush's batch, so batches apply in
order and at most once.
"""

from __future__ import annotations

from collections.abc import Mapping

from loadtests.recording import resp

# KEYS: counters hash, live hash, flushes hash. ARGV: flusher, flush number, count of
# counter pairs, then (field, n) pairs: the counters' first, then the live hash's.
APPLY_ONCE = """
local last = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
local seq = tonumber(ARGV[2])
if seq <= last then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
local i = 4
for _ = 1, tonumber(ARGV[3]) do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i <= #ARGV do
  redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
return 1
"""


def increments_command(
    *,
    counters_key: str,
    live_key: str,
    flushes_key: str,
    flusher: str,
    seq: int,
    counters: Mapping[str, int],
    live: Mapping[str, int],
) -> bytes:
    """One ``EVAL`` adding ``counters`` and ``live`` increments once for flush ``seq``."""
    pairs_c = [x for name, n in counters.items() if n for x in (name, int(n))]
    pairs_l = [x for name, n in live.items() if n for x in (name, int(n))]
    return resp.command("EVAL", APPLY_ONCE, 3, counters_key, live_key, flushes_key,
                        flusher, seq, len(pairs_c) // 2, *pairs_c, *pairs_l)
