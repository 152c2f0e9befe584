"""What a swarm runs against: a given host, or a stack and service started for the run.

Kept apart from the CLI so the capacity runner and benches can reuse it; the
service and the stack are started only when no URL says where they already are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console

err = Console(stderr=True)


@contextmanager
def target(
    *,
    host: str | None,
    redis_url: str | None,
    database_url: str | None,
    cache: str,
    policy: str,
    workers: int,
    cpu_affinity: list[int] | None = None,
    metrics_redis_url: str | None = None,
    service_pids: list[Callable[[], list[int]]] | None = None,
) -> Iterator[tuple[str, str]]:
    """(host, samples_redis_url): the given host, or a stack and service started for the run.

    Samples go to a metrics Redis of their own (``metrics_redis_url``, or a second
    embedded Valkey), never to the service's Redis, unless ``--host`` and ``--redis-url``
    alone say where everything already is. ``service_pids`` gets a callable for the
    started service's PIDs (to measure it).
    """
    from target_service.embedded.stack import Stack

    if host is not None and (metrics_redis_url or redis_url) is not None:
        yield host, str(metrics_redis_url or redis_url)
        return
    with Stack(
        redis_url=redis_url,
        database_url=database_url,
        metrics_redis=True,
        metrics_redis_url=metrics_redis_url,
    ) as info:
        if host is not None:
            yield host, info.samples_redis_url
            return
        from target_service.serve import run_service

        err.print(f"[dim]starting the service ({workers} worker(s), cache {cache})[/dim]")
        with run_service(
            redis_url=info.redis_url,
            database_url=info.database_url,
            workers=workers,
            policy=policy,
            cache_mode=cache,
            cpu_affinity=cpu_affinity,
        ) as service:
            if service_pids is not None:
                service_pids.append(lambda: service.pids)
            yield service.url, info.samples_redis_url


@contextmanager
def bench_target(
    *,
    kind: str,
    redis_url: str | None,
    database_url: str | None,
    workers: int,
    cpu_affinity: list[int] | None,
) -> Iterator[tuple[str, str]]:
    """(url, redis_url) of the bench's target: the stub or the reference service."""
    if kind == "service":
        with target(
            host=None,
            redis_url=redis_url,
            database_url=database_url,
            cache="fresh",
            policy="fixed-2s",
            workers=workers,
            cpu_affinity=cpu_affinity,
        ) as found:
            yield found
        return
    from loadtests.bench.stub_server import run_bench_target
    from target_service.embedded.stack import Stack
    from target_service.serve import free_port

    with Stack(redis_url=redis_url, database_url=database_url) as info:
        with run_bench_target(port=free_port(), cpu_affinity=cpu_affinity) as url:
            yield url, info.redis_url
