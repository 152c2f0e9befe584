"""The one duration format of every ``--duration``-like option: ``60s``, ``2m``, ``1h30m``.

Shared by the Locust scenario, the swarm and the analysis commands (``analysis``
imports ``loadtests``, never the reverse, so it lives here). A bare number means
seconds. Errors are :class:`~target_service.errors.UserError` with the fix in the text.
"""

from __future__ import annotations

from target_service.errors import UserError

UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0}
FORMAT_HINT = "use e.g. 60s, 2m, 1h30m"


def parse_duration_s(text: str | float) -> float:
    """``90``, ``90s``, ``2m``, ``1h``, ``1m30s``, ``0.5s`` -> seconds. Raises UserError."""
    if isinstance(text, int | float):
        return float(text)
    value = text.strip().lower()
    if not value:
        raise UserError(f"empty duration: {FORMAT_HINT}")
    try:
        return float(value)
    except ValueError:
        pass
    total, number = 0.0, ""
    for ch in value:
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in UNIT_S and number:
            try:
                total += float(number) * UNIT_S[ch]
            except ValueError:
                raise UserError(f"bad duration {text!r}: {FORMAT_HINT}") from None
            number = ""
        else:
            raise UserError(f"bad duration {text!r}: {FORMAT_HINT}")
    if number:
        raise UserError(f"bad duration {text!r}: a number without unit at the end")
    return total


def format_duration(seconds: float) -> str:
    """Seconds in the duration format: ``90`` -> ``90s``, ``120`` -> ``2m``, ``3600`` -> ``1h``."""
    for unit in ("h", "m"):
        size_s = UNIT_S[unit]
        if seconds >= size_s and seconds % size_s == 0:
            return f"{int(seconds // size_s)}{unit}"
    return f"{seconds:g}s"
