"""Raw ZRANGE pages (numpy + Arrow) against the real Valkey: same frame as redis-py's
parser, whichever protocol the client speaks; error replies raise."""

from __future__ import annotations

import pandas as pd
import pytest
import redis

from loadtests.recording import zrange_pages
from loadtests.recording.samples import _fetch_plain, parse_blob, read_samples, sample_key
from target_service.embedded.stack import StackInfo

RUN = "zrange-raw"


@pytest.mark.parametrize("protocol", [2, 3])
def test_raw_pages_parse_like_redis_py(clean_backends: StackInfo, protocol: int) -> None:
    client = redis.Redis.from_url(clean_backends.redis_url, protocol=protocol)
    key = sample_key(run_id=RUN, sample_type="poll")
    members = {f"{i % 13}:{i}:{i / 7:.3f}:c-{i % 4}": 1_700_000_000_000 + i * 0.5
               for i in range(1_001)}
    client.zadd(key, members)
    raw = read_samples(client, run_id=RUN, sample_type="poll", page_size=97)  # 11 pages
    plain = parse_blob(_fetch_plain(client, key=key, pages=[(0, 1_000)]), sample_type="poll")
    pd.testing.assert_frame_equal(raw, plain)
    assert len(raw) == len(members) and raw["n"].tolist() == list(range(1_001))
    client.close()


def test_an_error_reply_raises_the_servers_error(clean_backends: StackInfo) -> None:
    client = redis.Redis.from_url(clean_backends.redis_url)
    key = sample_key(run_id=RUN, sample_type="poll")
    client.set(key, "not a sorted set")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        list(zrange_pages.stream_pages(client, key=key, pages=[(0, 9), (10, 19)]))
    client.close()
