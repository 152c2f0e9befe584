"""The run's layout line and the shared-cores note (pure, no processes)."""

from __future__ import annotations

from analysis.capacity.setup import run_setup

TWO_CORES = {0, 1}


def test_pinned_apart_shares_nothing() -> None:
    setup = run_setup(machine_cpus=TWO_CORES, service_cpus=(0,), generator_cpus=(1,),
                      workers=1, processes=1)
    assert setup.description == ("service: 1 uvicorn worker on core 0; "
                                 "generator: 1 Locust process on core 1")
    assert not setup.cores_shared and setup.note is None


def test_any_cores_on_both_sides_is_said_to_share() -> None:
    setup = run_setup(machine_cpus=TWO_CORES, service_cpus=None, generator_cpus=None,
                      workers=2, processes=2)
    assert setup.description == ("service: 2 uvicorn workers on cores 0,1; "
                                 "generator: 2 Locust processes on cores 0,1")
    assert setup.cores_shared
    assert setup.note is not None and setup.note.startswith(
        "generator and service share cores 0,1") and "lower bound" in setup.note


def test_more_workers_than_service_cores_is_noted() -> None:
    setup = run_setup(machine_cpus=TWO_CORES, service_cpus=(0,), generator_cpus=(1,),
                      workers=2, processes=1)
    assert not setup.cores_shared
    assert setup.note == "2 service workers share core 0"


def test_remote_workers_and_an_external_service() -> None:
    setup = run_setup(machine_cpus=TWO_CORES, service_cpus=(0,), generator_cpus=(1,),
                      workers=1, processes=1, remote_workers=3, external_service=True)
    assert "3 workers started elsewhere" in setup.description
    assert setup.description.startswith("service: the given --host")
    assert not setup.cores_shared
    assert setup.note is not None and "not seen from here" in setup.note
    assert setup.meta() == {"setup": setup.description, "cores_shared": False,
                            "setup_note": setup.note}
