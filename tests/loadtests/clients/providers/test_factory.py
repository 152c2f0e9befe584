"""Provider selection: ``--realtime`` wins, else the design's ``REALTIME`` rule."""

from __future__ import annotations

import argparse
import random
from types import SimpleNamespace
from typing import Any

import pytest

from loadtests.clients.options import ScenarioParams, add_locust_arguments
from loadtests.clients.providers.base import ProviderContext
from loadtests.clients.providers.factory import (
    TRANSPORTS,
    UnknownTransport,
    choose_transport,
    make_provider,
)
from loadtests.clients.providers.long_poll import LongPollProvider
from loadtests.clients.providers.polling import PollingProvider
from loadtests.clients.providers.sse import SSEProvider
from loadtests.clients.providers.websocket import WebSocketProvider
from target_service.policy import load_policy


class _LocustLikeParser(argparse.ArgumentParser):
    """argparse taking Locust's extra ``is_secret`` keyword (importing Locust here would
    monkey-patch the whole test session; tests/loadtests/clients/test_scenario_options.py
    checks the real parser in a subprocess)."""

    def add_argument(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("is_secret", None)
        kwargs.pop("include_in_web_ui", None)
        return super().add_argument(*args, **kwargs)


def get_empty_argument_parser() -> argparse.ArgumentParser:
    return _LocustLikeParser()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "polling"),
        ({"REALTIME": "websocket"}, "websocket"),
        ({"REALTIME": "WebSocket"}, "polling"),  # the design compares exactly
        ({"REALTIME": "sse"}, "polling"),  # anything else is polling
        ({"REALTIME": ""}, "polling"),
    ],
)
def test_environment_rule_of_the_design(environ: dict[str, str], expected: str) -> None:
    assert choose_transport(option="", environ=environ) == expected
    assert choose_transport(option=None, environ=environ) == expected


@pytest.mark.parametrize("option", TRANSPORTS)
def test_option_wins_over_the_environment(option: str) -> None:
    for environ in ({}, {"REALTIME": "websocket"}, {"REALTIME": "polling"}):
        assert choose_transport(option=option, environ=environ) == option


def test_unknown_transport_is_refused() -> None:
    with pytest.raises(UnknownTransport, match="long-poll"):
        choose_transport(option="carrier-pigeon", environ={})


def _ctx(**overrides: Any) -> ProviderContext:
    values: dict[str, Any] = dict(
        host="http://127.0.0.1:9",
        token="t",
        rng=random.Random(1),
        fire=lambda *a, **k: None,
        count=lambda f, n: None,
        reconnected=lambda ms: None,
        post=lambda r, n: (201, b"{}"),
        sleep=lambda s: None,
        poll_sample=lambda t, lat, c: None,
    )
    values.update(overrides)
    return ProviderContext(**values)


@pytest.mark.parametrize(
    ("argv", "environ", "kind"),
    [
        ([], {}, PollingProvider),
        ([], {"REALTIME": "websocket"}, WebSocketProvider),
        (["--realtime", "long-poll"], {"REALTIME": "websocket"}, LongPollProvider),
        (["--realtime", "sse"], {}, SSEProvider),
        (["--realtime", "polling"], {"REALTIME": "websocket"}, PollingProvider),
        (["--realtime", "websocket"], {}, WebSocketProvider),
    ],
)
def test_locust_options_pick_the_provider(
    argv: list[str], environ: dict[str, str], kind: type
) -> None:
    parser = get_empty_argument_parser()
    add_locust_arguments(parser)
    opts = parser.parse_args(argv)
    transport = choose_transport(option=opts.realtime, environ=environ)
    provider = make_provider(transport, _ctx(), policy=load_policy("fixed-2s"), options=opts)
    try:
        assert type(provider) is kind and provider.name == transport
    finally:
        provider.close()


def test_reconnect_every_s_is_a_scenario_option() -> None:
    parser = get_empty_argument_parser()
    add_locust_arguments(parser)
    assert parser.parse_args([]).reconnect_every_s == 0.0
    assert parser.parse_args(["--reconnect-every", "2.5s"]).reconnect_every_s == 2.5
    assert parser.parse_args(["--reconnect-every", "1m"]).reconnect_every_s == 60.0
    assert "--reconnect-every=1m" in ScenarioParams(reconnect_every_s=60).to_args()
    assert "--realtime=sse" in ScenarioParams(realtime="sse").to_args()


def test_polling_provider_keeps_the_client_policy() -> None:
    opts = SimpleNamespace(page_limit=50, jitter=0.0)
    provider = make_provider("polling", _ctx(), policy=load_policy("seed-optimal"), options=opts)
    assert isinstance(provider, PollingProvider)
    assert provider.interval_ms == load_policy("seed-optimal").start_ms
    assert provider.next_due_s() == float("inf")  # nothing subscribed yet
    provider.subscribe("c1", lambda d: None)
    assert provider.next_due_s() < float("inf")
    provider.away(offline=False)
    assert provider.next_due_s() == float("inf")  # a hidden tab does not poll
    provider.back(offline=False)
    assert provider.next_due_s() < float("inf")
    provider.close()
