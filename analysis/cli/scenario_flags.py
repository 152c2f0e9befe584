"""The scenario table as typer flags: :func:`scenario_options` decorates a command.

One row of :data:`loadtests.clients.options.SWARM_OPTIONS` is one flag here, the same
row Locust's own parser is built from, so ``pollcap swarm`` and plain ``locust -f``
take the same scenario flags with the same defaults.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, get_type_hints

import typer

from loadtests.clients.options import ScenarioOption
from loadtests.durations import format_duration, parse_duration_s


def scenario_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a typer command one option per row of the scenario table.

    ``command`` declares its own options and takes ``scenario`` (a ScenarioParams)
    plus ``client_policy`` and ``shape``; typer sees those replaced by the table's
    rows (:data:`loadtests.clients.options.SWARM_OPTIONS`), the same rows Locust's
    parser is built from.
    """
    from loadtests.clients.options import SWARM_OPTIONS

    hints = get_type_hints(command, include_extras=True)
    table = {o.name for o in SWARM_OPTIONS}
    own = [
        p.replace(annotation=hints[p.name])
        for p in inspect.signature(command).parameters.values()
        if p.name not in table and p.name != "scenario"
    ]
    generated = [_typer_parameter(o) for o in SWARM_OPTIONS]

    @functools.wraps(command)
    def wrapper(**values: Any) -> None:
        from loadtests.clients.options import ScenarioParams

        workload: dict[str, Any] = {}
        for option in SWARM_OPTIONS:
            value = values.pop(option.name)
            if option.is_duration:
                value = parse_duration_s(value)
            if option.workload:
                workload[option.name] = value
            else:
                values[option.name] = value
        command(scenario=ScenarioParams(**workload), **values)

    params = [*own, *generated]
    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _typer_parameter(option: ScenarioOption) -> inspect.Parameter:
    """One typer option from a table row (durations as text, parsed in the wrapper)."""
    if option.type is bool:
        base = option.flag.removeprefix("--no-").removeprefix("--")
        info = typer.Option(f"--{base}/--no-{base}", help=option.help_text())
        annotation: Any = Annotated[bool, info]
        default: Any = option.default
    else:
        info = typer.Option(option.flag, help=option.help_text(), envvar=option.env)
        kind: Any = str if option.is_duration else option.type
        annotation = Annotated[kind, info]
        default = format_duration(option.default) if option.is_duration else option.default
    return inspect.Parameter(
        option.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )
