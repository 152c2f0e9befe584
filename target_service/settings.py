"""Service configuration: one pydantic-settings class, overridable by ``POLLCAP_*`` variables.

Nothing reads the environment at import time: ``Settings()`` is built by the app factory
(or passed in by tests), so uvicorn workers started with ``factory=True`` pick up the
variables the parent process exported.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from target_service.policy import PolicyError, load_policy

CacheMode = Literal["seed", "fresh"]
CACHE_MODES: tuple[str, ...] = get_args(CacheMode)  # the one list: service, CLI, sweep


class Settings(BaseSettings):
    """Everything the service needs; every field can be set as ``POLLCAP_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="POLLCAP_", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = "postgresql://pollcap@127.0.0.1:5432/pollcap"
    policy: str = "fixed-2s"
    cache_mode: CacheMode = "fresh"
    admin_token: str = "pollcap-admin"

    # pools
    redis_max_connections: int = Field(default=64, ge=2, le=1000)
    redis_timeout_s: float = Field(default=1.0, gt=0)
    redis_retry_s: float = Field(default=0.5, gt=0, description="probe period while Redis is down")
    pg_min_size: int = Field(default=2, ge=1)
    pg_max_size: int = Field(default=16, ge=1, le=200)

    # deadlines: no request outlives request_deadline_s, whatever a backend does
    request_deadline_s: float = Field(default=5.0, gt=0, description="then 503 + Retry-After")
    pg_acquire_timeout_s: float = Field(default=1.0, gt=0, description="wait for a connection")
    pg_command_timeout_s: float = Field(default=2.0, gt=0, description="one statement/transaction")
    retry_after_s: int = Field(default=1, ge=1, description="Retry-After of a 503")
    overload_log_interval_s: float = Field(
        default=10.0, gt=0, description="503/504 warnings: the first, then one summary per this")
    idempotency_ttl_s: int = Field(default=86_400, ge=1, description="Redis copy of a key's row")

    # source design's cache levels
    seed_ttl_s: int = Field(default=5, ge=1, description="chat:{channel}:{after|all} EX 5")
    recent_ttl_s: int = Field(default=60, ge=1, description="level 1: chat:recent:{channel}")
    recent_size: int = Field(default=200, ge=10, le=10_000)
    cache_max_channels: int = Field(default=10_000, ge=1, description="fresh cache, per worker")
    meta_ttl_s: int = Field(default=300, ge=1, description="level 2: chat:meta:{channel}")
    presence_window_s: float = Field(default=30.0, gt=0, description="level 3: online users")
    presence_flush_ms: int = Field(default=500, ge=10, le=10_000)
    rate_window_s: int = Field(default=60, ge=1, description="message rate: messages/s over this")
    new_flag_ttl_s: int = Field(default=30, ge=1, description="notifications:new:{user} EX 30")
    token_cache_size: int = Field(default=100_000, ge=0)
    push_invalidation: bool = Field(default=True, description="fresh: versions by pub/sub")
    push_heartbeat_s: float = Field(default=0.1, gt=0)
    push_stale_after_s: float = Field(default=0.5, gt=0)

    # own latency samples (metrics:{type}:latency)
    metrics_enabled: bool = True
    metrics_max_per_s: int = Field(default=200, ge=1, description="kept per type, worker, second")
    metrics_flush_ms: int = Field(default=1000, ge=10)
    metrics_retention_s: int = Field(default=3600, ge=10)
    load_window_s: float = Field(default=3.0, gt=0, description="CPU load averaged over this")

    gc_tuning: bool = Field(default=True, description="gc.freeze once started: full collections"
                            " skip start-up's objects (target_service/gc_tuning.py)")

    # push transports (target_service/realtime/)
    realtime_queue_max: int = Field(default=256, ge=1, description="messages queued per"
                                    " subscription; beyond, it catches up by cursor")
    realtime_check_s: float = Field(default=1.0, gt=0, description="safety net: re-read the"
                                    " watched channels' versions this often")
    realtime_raw_send: bool = Field(default=True, description="WebSocket frames framed once"
                                    " per message, written to uvicorn's transport (rawsend.py)")
    sse_heartbeat_s: float = Field(default=15.0, gt=0, le=15)
    sse_stream_max_s: float = Field(default=0.0, ge=0, description="close an SSE stream after"
                                    " this long (0: never); the client resumes by Last-Event-ID")
    longpoll_max_wait_ms: int = Field(default=30_000, ge=1, le=30_000, description="a held"
                                      " poll answers after min(waitMs, this)")

    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    otel_enabled: bool = Field(
        default=False, description="FastAPI's native OpenTelemetry (off: even unconfigured it "
        "checks its providers and the environment on every request)")

    @model_validator(mode="after")
    def _deadlines_fit(self) -> Settings:
        inner_s = self.redis_timeout_s + self.pg_acquire_timeout_s + self.pg_command_timeout_s
        if inner_s >= self.request_deadline_s:
            raise ValueError(
                f"redis_timeout_s + pg_acquire_timeout_s + pg_command_timeout_s = {inner_s:g} s"
                f" must stay below request_deadline_s = {self.request_deadline_s:g} s"
            )
        return self

    @field_validator("policy")
    @classmethod
    def _policy_loads(cls, value: str) -> str:
        try:
            load_policy(value)
        except PolicyError as exc:
            raise ValueError(str(exc)) from None
        return value
