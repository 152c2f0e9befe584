"""--seed: every tab's draws come from (seed, worker, tab index), so runs repeat.

``loadtests.clients.scenario`` imports Locust, which monkey-patches the whole process
(gevent), so the draws are made in a subprocess and compared here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from loadtests.clients.options import DEFAULT_SEED, OPTIONS_BY_NAME, ScenarioParams

DRAWS = """
import json, sys, types
from loadtests.clients.scenario import Scenario, channel_weights, tab_rng, worker_index

def tab_draws(scn, n):
    out = []
    for _ in range(n):  # what ChatUser.on_start draws first: channel, then sender or not
        rng = scn.next_tab_rng()
        out.append([scn.pick_channel(rng), rng.random() < 0.1, rng.random()])
    return out

def scenario(seed, worker):
    channels = [f"c{i}" for i in range(20)]
    return Scenario(options=None, run_id="r", policy=None, channels=channels,
                    weights=channel_weights(channels=20, skew=1.0), recorder=None,
                    seed=seed, worker=worker)

env = lambda runner: types.SimpleNamespace(runner=runner)
print(json.dumps({
    "again": [tab_draws(scenario(1, 0), 400), tab_draws(scenario(1, 0), 400)],
    "other_seed": tab_draws(scenario(2, 0), 400),
    "worker1": tab_draws(scenario(1, 1), 400),
    "one_tab": [tab_rng(seed=7, worker=2, tab=t).random() for t in (9, 9, 10)],
    "workers": [worker_index(env(types.SimpleNamespace(worker_index=3))),
                worker_index(env(types.SimpleNamespace(worker_index=-1))),
                worker_index(env(None))],
}))
"""


def _draws() -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", DRAWS], capture_output=True, text=True,
                          timeout=60, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_same_seed_and_tab_draw_the_same_other_tabs_seeds_and_workers_do_not() -> None:
    got = _draws()
    first, again = got["again"]
    assert first == again  # the same (seed, worker, tab) in a second run: the same workload
    senders = sum(sender for _, sender, _ in first)
    assert 15 <= senders <= 70  # about a tenth of 400 tabs send
    assert len({channel for channel, _, _ in first}) > 10  # tabs spread over the channels
    # tab indices within one process differ
    assert len({value for _, _, value in first}) == len(first)
    for other in (got["other_seed"], got["worker1"]):  # another seed, another worker
        assert [v for *_, v in other] != [v for *_, v in first]
        assert not {v for *_, v in other} & {v for *_, v in first}
    one, same, next_tab = got["one_tab"]
    assert one == same and one != next_tab
    assert got["workers"] == [3, 0, 0]  # Locust's worker index; alone (or not yet told): 0


def test_seed_is_a_workload_option_with_a_fixed_default_passed_to_locust() -> None:
    option = OPTIONS_BY_NAME["seed"]
    assert option.workload and option.type is int and option.default == DEFAULT_SEED
    assert f"--seed={DEFAULT_SEED}" in ScenarioParams().to_args()
    assert "--seed=42" in ScenarioParams(seed=42).to_args()
    assert ScenarioParams(seed=42).public_dict()["seed"] == 42  # recorded in meta.json
