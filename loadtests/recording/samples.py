"""Reading a run's samples and counters back out of Redis, and the summary maths.

The writers (:mod:`loadtests.recording.recorder`) store one sorted-set member per sample under
``metrics:{run}:{type}:latency`` with the event time in ms as the score; keys and member
layouts are fixed in :mod:`loadtests.recording.keys`. This is the one reader
of those keys: the swarm summary, the capacity runner and ``analysis.collect`` use it.

Why raw pages: redis-py without hiredis parses every bulk string in Python (1M
members *plus* 1M scores, ~6 s here); :mod:`loadtests.recording.zrange_pages` reads the
plain ``ZRANGE ... WITHSCORES`` replies as bytes and has numpy and Arrow's C++ CSV
reader turn them into typed columns, a page parsed while the server builds the next.
Where that raw connection cannot be had, the plain paged ZRANGE through redis-py
(slower, same output).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import redis

from loadtests.recording import zrange_pages
from loadtests.recording.keys import (
    COUNTER_FIELDS,
    MEMBER_FIELDS,
    SAMPLE_TYPES,
    run_counters_key,
    samples_key,
)

COLUMN_DTYPES: dict[str, Any] = {
    "user": str,
    "n": np.int64,
    "latency_ms": np.float64,
    "channel": str,
    "name": str,
    "seq": np.int64,
    "t_ms": np.float64,
}
ARROW_TYPES: dict[str, pa.DataType] = {
    "user": pa.string(),
    "n": pa.int64(),
    "latency_ms": pa.float64(),
    "channel": pa.string(),
    "name": pa.string(),
    "seq": pa.int64(),
    "t_ms": pa.float64(),
}
PAGE_SIZE = 50_000
# analysis.collect and its tests import these names from here (kept until they move to keys)
sample_key = samples_key


def sample_columns(sample_type: str) -> list[str]:
    """Columns of a samples frame: ``t_ms`` then the member fields."""
    return ["t_ms", *MEMBER_FIELDS[sample_type]]


def empty_samples(sample_type: str) -> pd.DataFrame:
    """A typed, empty samples frame (so downstream code never special-cases 'no data')."""
    return _typed(pd.DataFrame({c: [] for c in sample_columns(sample_type)}))


def read_samples(
    client: redis.Redis,
    *,
    run_id: str,
    sample_type: str,
    start_ms: float | None = None,
    end_ms: float | None = None,
    page_size: int = PAGE_SIZE,
) -> pd.DataFrame:
    """All samples of one type (optionally ``start_ms <= t_ms <= end_ms``), time-ordered.

    Pages are rank ranges found with ZCOUNT (O(log N) each), streamed on one
    connection with a page in flight while the previous one is parsed.
    """
    if sample_type not in MEMBER_FIELDS:
        raise ValueError(f"unknown sample type {sample_type!r}; expected one of {SAMPLE_TYPES}")
    key = samples_key(run_id=run_id, sample_type=sample_type)
    first, last = _rank_range(client, key=key, start_ms=start_ms, end_ms=end_ms)
    if last < first:
        return empty_samples(sample_type)
    pages = [(s, min(s + page_size - 1, last)) for s in range(first, last + 1, page_size)]
    fields = list(MEMBER_FIELDS[sample_type])
    try:
        tables = [zrange_pages.page_table(body, fields=fields, types=ARROW_TYPES)
                  for body in zrange_pages.stream_pages(client, key=key, pages=pages)]
    except zrange_pages.NotRaw:  # redis-py's parser, same output
        return parse_blob(_fetch_plain(client, key=key, pages=pages), sample_type=sample_type)
    frame = pa.concat_tables(tables).to_pandas()
    return _typed(frame[sample_columns(sample_type)])


def parse_blob(blob: bytes, *, sample_type: str) -> pd.DataFrame:
    """Parse ``member:score`` lines (one per sample) into a typed frame."""
    if not blob:
        return empty_samples(sample_type)
    frame = _parse_page(blob, _blob_columns(sample_type)).to_pandas()
    return _typed(frame[sample_columns(sample_type)])


def _blob_columns(sample_type: str) -> list[str]:
    return [*MEMBER_FIELDS[sample_type], "t_ms"]


def _parse_page(blob: bytes, names: list[str]) -> pa.Table:
    """One page of ``member:score`` lines, parsed by Arrow's C++ CSV reader (typed columns)."""
    return pacsv.read_csv(
        io.BytesIO(blob),
        read_options=pacsv.ReadOptions(column_names=names, block_size=max(len(blob), 1 << 20)),
        parse_options=pacsv.ParseOptions(
            delimiter=":", quote_char=False, double_quote=False, escape_char=False
        ),
        convert_options=pacsv.ConvertOptions(column_types={c: ARROW_TYPES[c] for c in names}),
    )


def _rank_range(
    client: redis.Redis, *, key: str, start_ms: float | None, end_ms: float | None
) -> tuple[int, int]:
    """First and last rank of members with score in the window (inclusive)."""
    pipe = client.pipeline(transaction=False)
    pipe.zcount(key, "-inf", f"({start_ms}" if start_ms is not None else "-inf")
    pipe.zcount(key, "-inf", end_ms if end_ms is not None else "+inf")
    below, upto = pipe.execute()
    first = int(below) if start_ms is not None else 0
    return first, int(upto) - 1


def _fetch_plain(client: redis.Redis, *, key: str, pages: list[tuple[int, int]]) -> bytes:
    """Plain ``ZRANGE ... WITHSCORES`` pages (no scripting); slower, same output."""
    pipe = client.pipeline(transaction=False)
    for start, stop in pages:
        pipe.execute_command("ZRANGE", key, start, stop, "WITHSCORES")
    lines = [
        b"%s:%s" % (member, _score_bytes(score))
        for page in pipe.execute()
        for member, score in _pairs(page)
    ]
    return b"\n".join(lines) + b"\n" if lines else b""


def _pairs(page: list[Any]) -> Iterable[tuple[bytes, Any]]:
    """(member, score) pairs whether the client returned them flat or already paired."""
    if page and isinstance(page[0], list | tuple):
        return page
    return zip(page[0::2], page[1::2], strict=True)


def _score_bytes(score: Any) -> bytes:
    return score if isinstance(score, bytes) else repr(float(score)).encode()


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Apply the column dtypes (``t_ms`` as int64 epoch ms) to whatever columns exist."""
    dtypes = {c: COLUMN_DTYPES[c] for c in frame.columns if c in COLUMN_DTYPES}
    frame = frame.astype(dtypes)
    if "t_ms" in frame.columns:
        frame["t_ms"] = np.rint(frame["t_ms"].to_numpy(dtype=np.float64)).astype(np.int64)
    return frame.reset_index(drop=True)


def read_counters(client: redis.Redis, *, run_id: str) -> dict[str, int]:
    """The run's counters hash, every known field present (0 when never incremented)."""
    raw = client.hgetall(run_counters_key(run_id=run_id))
    counters = {field: 0 for field in COUNTER_FIELDS}
    for field, value in raw.items():
        name = field.decode() if isinstance(field, bytes) else field
        counters[name] = int(value)
    return counters


def percentiles_ms(latency_ms: np.ndarray) -> dict[str, float | None]:
    """p50/p95/p99/max in ms (None when there are no samples), rounded to 0.1 ms."""
    if latency_ms.size == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.percentile(latency_ms, [50, 95, 99])
    return {
        "p50": round(float(p50), 1),
        "p95": round(float(p95), 1),
        "p99": round(float(p99), 1),
        "max": round(float(latency_ms.max()), 1),
    }
