from analysis.capacity.ramp import DEFAULT_PLAN, QUICK_PLAN, make_plan, saturation_reason


def test_default_plans_fit_their_time_budgets() -> None:
    assert DEFAULT_PLAN.duration_s <= 200  # leaves room for start-up and the report in 4 min
    assert QUICK_PLAN.duration_s <= 65  # --quick within 90 s


def test_max_users_cuts_the_ramp_and_ends_on_it() -> None:
    plan = make_plan(quick=False, max_users=1000)
    assert plan.users[-1] == 1000 and all(n < 1000 for n in plan.users[:-1])


def test_explicit_steps_and_shape_spec() -> None:
    plan = make_plan(quick=True, max_users=500, start_users=100, step_users=200, hold_s=5)
    assert plan.users == (100, 300, 500) and plan.hold_s == 5
    assert plan.shape_spec() == "step:start=100,step=200,hold=5s,max=500"
    from loadtests.shapes import parse_shape

    stages = parse_shape(plan.shape_spec(), users=500, spawn_rate=100, duration_s=None)
    assert [s.users for s in stages] == list(plan.users)


def test_bad_ramps_are_user_errors() -> None:
    import pytest

    from target_service.errors import UserError

    with pytest.raises(UserError):
        make_plan(quick=True, max_users=10, start_users=100)
    with pytest.raises(UserError):
        make_plan(quick=True, hold_s=1)


def test_no_stop_while_healthy() -> None:
    assert saturation_reason(requests_per_s=[100, 200], error_rate=[0, 0],
                             delivery_p95_ms=[1900, 1950], slo_p95_ms=3000) is None


def test_stops_on_errors_latency_and_falling_throughput() -> None:
    errors = saturation_reason(requests_per_s=[100, 200], error_rate=[0, 0.06],
                               delivery_p95_ms=[1, 1], slo_p95_ms=3000)
    assert errors is not None and "errors" in errors
    p95 = saturation_reason(requests_per_s=[100, 200], error_rate=[0, 0],
                            delivery_p95_ms=[1, 9001], slo_p95_ms=3000)
    assert p95 is not None and "p95" in p95
    fell = saturation_reason(requests_per_s=[100, 300, 250], error_rate=[0, 0, 0],
                             delivery_p95_ms=[1, 1, 1], slo_p95_ms=3000)
    assert fell is not None and "fell" in fell
