"""The scenario table: one row per option generates Locust's argument and ScenarioParams.

Locust's real parser is used, in a subprocess: importing Locust monkey-patches the
whole process (gevent), which the rest of the test session must not inherit.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from typing import Any

from loadtests.clients.options import (
    OPTIONS_BY_NAME,
    SCENARIO_OPTIONS,
    WORKLOAD_OPTIONS,
    ScenarioParams,
)

PARSE = """
import json, sys
from locust.argument_parser import LocustArgumentParser
from loadtests.clients.options import add_locust_arguments
out = []
for args in json.loads(sys.argv[1]):
    parser = LocustArgumentParser()
    add_locust_arguments(parser)
    try:
        out.append(vars(parser.parse_args(args)))
    except SystemExit as exc:
        out.append({"exit": exc.code})
print(json.dumps(out))
"""


def parse_with_locust(*arg_lists: list[str], env: dict[str, str] | None = None) -> list[Any]:
    """Each argument list parsed by Locust's own parser with the table's arguments."""
    done = subprocess.run(
        [sys.executable, "-c", PARSE, json.dumps(arg_lists)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env if env is not None else dict(os.environ),
        check=True,
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_params_are_exactly_the_workload_rows_with_their_defaults() -> None:
    fields = {f.name: f for f in dataclasses.fields(ScenarioParams)}
    assert set(fields) == {o.name for o in WORKLOAD_OPTIONS}
    defaults = ScenarioParams()
    for option in WORKLOAD_OPTIONS:
        if not option.secret:  # a secret's None means "Locust's own default"
            assert getattr(defaults, option.name) == option.default, option.name


def test_locust_parser_defaults_changed_values_and_bad_durations() -> None:
    """One Locust subprocess: table defaults, a ScenarioParams round trip, durations."""
    env = {k: v for k, v in os.environ.items() if k not in {o.env for o in SCENARIO_OPTIONS}}
    changed = ScenarioParams(
        channels=3,
        channel_skew=0.0,
        channel_prefix="x",
        sender_share=0.5,
        send_rate_per_min=30.0,
        notification_rate_per_s=0.0,
        notification_interval_s=2.5,
        hidden_share=0.2,
        hidden_mean_s=90.0,
        offline_share=0.1,
        offline_mean_s=120.0,
        jitter=0.0,
        page_limit=7,
        record=False,
        delivery_rows=False,
    )
    defaults, parsed, durations, bad = parse_with_locust(
        [], changed.to_args(), ["--hidden-mean=2m", "--offline-mean=90"], ["--hidden-mean=soon"],
        env=env,
    )
    assert defaults == {o.name: o.default for o in SCENARIO_OPTIONS}
    for option in WORKLOAD_OPTIONS:
        if not option.secret:
            assert parsed[option.name] == getattr(changed, option.name), option.name
    assert (durations["hidden_mean_s"], durations["offline_mean_s"]) == (120.0, 90.0)
    assert bad == {"exit": 2}


def test_secrets_travel_in_the_environment_not_on_the_command_line() -> None:
    params = ScenarioParams(admin_token="s3cret")
    assert not any("s3cret" in arg for arg in params.to_args())
    token = OPTIONS_BY_NAME["admin_token"]
    assert token.env is not None and params.to_env() == {token.env: "s3cret"}
    assert "admin_token" not in params.public_dict()


def test_duration_flags_drop_the_unit_and_other_flags_carry_it() -> None:
    for option in SCENARIO_OPTIONS:
        if option.is_duration:
            assert option.name.endswith("_s") and not option.flag.endswith("-s")
    assert OPTIONS_BY_NAME["notification_rate_per_s"].flag == "--notification-rate-per-s"
