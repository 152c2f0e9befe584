"""Settings: environment overrides with the POLLCAP_ prefix, validation of bad values."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from target_service.settings import Settings


def test_environment_overrides_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLLCAP_CACHE_MODE", "seed")
    monkeypatch.setenv("POLLCAP_POLICY", "seed-optimal")
    monkeypatch.setenv("POLLCAP_PRESENCE_WINDOW_S", "2.5")
    monkeypatch.setenv("POLLCAP_REDIS_URL", "redis://127.0.0.1:1/0")
    s = Settings()
    assert (s.cache_mode, s.policy, s.presence_window_s) == ("seed", "seed-optimal", 2.5)
    assert s.redis_url == "redis://127.0.0.1:1/0"


def test_defaults_follow_the_source() -> None:
    # pydantic's dataclass_transform __init__ lists fields only, not BaseSettings' own _env_file
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.cache_mode == "fresh"
    assert (s.seed_ttl_s, s.recent_ttl_s, s.meta_ttl_s) == (5, 60, 300)
    assert (s.presence_window_s, s.new_flag_ttl_s, s.rate_window_s) == (30.0, 30, 60)
    assert s.max_body_bytes == 64 * 1024


@pytest.mark.parametrize("field,value", [
    ("cache_mode", "stale"), ("policy", "no-such-policy"), ("presence_window_s", 0),
    ("redis_max_connections", 1),
])
def test_bad_values_are_rejected(field: str, value: object) -> None:
    overrides: dict[str, Any] = {field: value}  # wrong on purpose: pydantic must refuse it
    with pytest.raises(ValidationError):
        Settings(**overrides)
