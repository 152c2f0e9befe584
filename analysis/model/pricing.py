"""Cost per 1,000 users per month under price tables kept as data files.

A price table (``analysis/prices/*.toml``, or the user's own ``--prices FILE`` in TOML
or JSON) names a ``model`` (how usage turns into billed units), its ``prices``, the
public ``sources`` and the date they were ``checked``. The usage comes from a
measured run (:class:`Usage`): requests and response time per user for polling,
messages per user for push, users per instance and backend nodes per user for
self-hosting. Free tiers and plan minimums are not spread over users: at the scale
a plan is made for they vanish; the fixed part is reported apart.

Models:

* ``lambda_http``: each request is one API Gateway HTTP request (512 KB units) and one
  Lambda invocation billed for its duration (the measured response time) × memory;
* ``apigw_websocket``: messages in and out in 32 KB units plus connection minutes; the
  2 h connection limit becomes reconnects, the 10 min idle timeout keepalive pings;
* ``durable_objects``: one object per channel, WebSocket hibernation: incoming
  messages bill 20:1 as requests, duration only while a handler runs, at 128 MB;
* ``instances``: instance-hours for users / users-per-instance, plus backend nodes.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from target_service.errors import UserError

PRICES_DIR = Path(__file__).resolve().parent.parent / "prices"
SECONDS_PER_MONTH = 30 * 24 * 3600  # the plan's 30-day month
HOURS_PER_MONTH = SECONDS_PER_MONTH / 3600
USERS = 1000.0


@dataclass(frozen=True, slots=True)
class PriceTable:
    name: str
    title: str
    model: str
    prices: dict[str, float]
    sources: list[str]
    checked: str
    checked_note: str = ""
    path: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    """One active user's measured demand (rates per second, sizes in KB)."""

    requests_per_user_s: float
    response_ms: float
    sends_per_user_s: float = 0.0
    deliveries_per_user_s: float = 0.0
    deliveries_measured_per_user_s: float | None = None  # recorded, beside the expectation
    message_kb: float = 1.0
    request_kb: float = 1.0
    users_per_instance: float | None = None
    redis_nodes_per_user: float = 0.0
    pg_nodes_per_user: float = 0.0


@dataclass(frozen=True, slots=True)
class CostEstimate:
    table: str
    title: str
    per_1000_users_month_usd: float | None
    items: dict[str, float]  # USD per 1,000 users per month, by billed item
    fixed_month_usd: float
    assumptions: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    checked: str = ""


def load_price_table(path: Path) -> PriceTable:
    """Read one table; a missing field or an unknown model is a one-line UserError."""
    try:
        raw = path.read_text(encoding="utf-8")
        doc = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw)
    except FileNotFoundError as exc:
        raise UserError(f"price table {path} does not exist") from exc
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"price table {path} is not valid TOML/JSON: {exc}") from exc
    missing = [k for k in ("name", "model", "prices", "sources", "checked") if k not in doc]
    if missing:
        raise UserError(f"price table {path} lacks {', '.join(missing)}")
    model = str(doc["model"])
    if model not in MODELS:
        raise UserError(f"price table {path}: unknown model {model!r} "
                        f"(one of {', '.join(sorted(MODELS))})")
    prices = doc["prices"]
    need = [k for k in REQUIRED[model] if k not in prices]
    bad = [k for k, v in prices.items() if not isinstance(v, int | float) or v < 0]
    if need or bad:
        what = f"lacks prices {', '.join(need)}" if need else f"has bad values for {bad}"
        raise UserError(f"price table {path} ({model}) {what}")
    sources = doc["sources"] if isinstance(doc["sources"], list) else [doc["sources"]]
    return PriceTable(name=str(doc["name"]), title=str(doc.get("title", doc["name"])),
                      model=model, prices={k: float(v) for k, v in prices.items()},
                      sources=[str(s) for s in sources], checked=str(doc["checked"]),
                      checked_note=" ".join(str(doc.get("checked_note", "")).split()),
                      path=str(path))


def default_tables() -> list[PriceTable]:
    """The tables shipped in ``analysis/prices``, by file name."""
    return [load_price_table(p) for p in sorted(PRICES_DIR.glob("*.toml"))]


def with_user_tables(paths: list[Path] | None) -> list[PriceTable]:
    """The shipped tables plus the user's (``--prices FILE``); a same-named one replaces."""
    tables = {t.name: t for t in default_tables()}
    for path in paths or []:
        own = load_price_table(path)
        tables[own.name] = own
    return list(tables.values())


def estimate(table: PriceTable, usage: Usage) -> CostEstimate:
    """Cost per 1,000 users per month of ``usage`` under ``table``."""
    items, fixed, notes = MODELS[table.model](table.prices, usage)
    total = None if any(not math.isfinite(v) for v in items.values()) else sum(items.values())
    return CostEstimate(table=table.name, title=table.title, per_1000_users_month_usd=total,
                        items=items, fixed_month_usd=fixed,
                        assumptions=notes + ["30-day month, every user active all month; free "
                                             "tiers not counted"],
                        sources=table.sources, checked=table.checked)


Model = Callable[[dict[str, float], Usage], tuple[dict[str, float], float, list[str]]]


def _lambda_http(p: dict[str, float], u: Usage) -> tuple[dict[str, float], float, list[str]]:
    requests = USERS * u.requests_per_user_s * SECONDS_PER_MONTH
    gb_s = requests * u.response_ms / 1000.0 * p["lambda_memory_mb"] / 1024.0
    units = max(1, math.ceil(u.request_kb / p["apigw_http_request_unit_kb"]))
    return ({"lambda requests": requests / 1e6 * p["lambda_request_per_million_usd"],
             "lambda duration": gb_s * p["lambda_gb_second_usd"],
             "api gateway http": requests * units / 1e6
             * p["apigw_http_request_per_million_usd"]}, 0.0,
            [f"{u.requests_per_user_s:.3g} requests/s per user, each billed "
             f"{u.response_ms:.2g} ms at {p['lambda_memory_mb']:g} MB (the measured response "
             "time without a queue: the least mean of the steps that kept their schedule)"])


def keepalive_rate_s(*, traffic_per_s: float, keepalive_s: float) -> float:
    """Pings/s of a client that pings after ``keepalive_s`` without Poisson traffic.

    Renewal argument: after any event the next one is min(Exp(λ), K); a cycle lasts
    (1 − e^{−λK}) / λ on average and ends in a ping with probability e^{−λK}.
    """
    if traffic_per_s <= 0:
        return 1.0 / keepalive_s
    quiet = math.exp(-traffic_per_s * keepalive_s)
    return traffic_per_s * quiet / (1.0 - quiet) if quiet < 1 else 1.0 / keepalive_s


def _apigw_websocket(p: dict[str, float], u: Usage) -> tuple[dict[str, float], float, list[str]]:
    if p["keepalive_s"] >= p["idle_timeout_s"]:
        raise UserError("keepalive_s must be shorter than idle_timeout_s")
    units = max(1, math.ceil(u.message_kb / p["message_unit_kb"]))
    traffic = u.sends_per_user_s + u.deliveries_per_user_s
    pings = keepalive_rate_s(traffic_per_s=traffic, keepalive_s=p["keepalive_s"])
    reconnects = 1.0 / p["max_connection_s"]
    per_user_msgs_s = traffic * units + pings + reconnects * p["reconnect_messages"]
    month = USERS * SECONDS_PER_MONTH
    price = p["message_per_million_usd"] / 1e6
    return ({"messages": month * traffic * units * price,
             "keepalives": month * pings * price,
             "reconnects": month * reconnects * p["reconnect_messages"] * price,
             "connection minutes": month / 60.0 * p["connection_minute_per_million_usd"] / 1e6},
            0.0,
            [f"{traffic:.3g} messages/s per user in {p['message_unit_kb']:g} KB units; a ping "
             f"after {p['keepalive_s']:.0f} s idle ({p['idle_timeout_s']:.0f} s timeout); "
             f"reconnect every {p['max_connection_s'] / 3600:g} h; {per_user_msgs_s:.3g} billed "
             "messages/s per user"])


def _durable_objects(p: dict[str, float], u: Usage) -> tuple[dict[str, float], float, list[str]]:
    month = USERS * SECONDS_PER_MONTH
    incoming = month * u.sends_per_user_s
    connects = USERS * p["connects_per_user_day"] * 30
    requests = incoming / p["incoming_messages_per_request"] + connects
    gb_s = incoming * p["handler_ms"] / 1000.0 * p["object_memory_mb"] / 1024.0
    return ({"requests": requests / 1e6 * p["request_per_million_usd"],
             "duration": gb_s / 1e6 * p["gb_second_per_million_usd"]},
            p["plan_minimum_month_usd"],
            [f"{u.sends_per_user_s:.3g} incoming messages/s per user billed "
             f"{p['incoming_messages_per_request']:g}:1; objects awake "
             f"{p['handler_ms']:g} ms per message at {p['object_memory_mb']:g} MB, hibernating "
             f"otherwise; outgoing messages free; {p['connects_per_user_day']:g} connects per "
             f"user per day; plan minimum ${p['plan_minimum_month_usd']:.2f}/month apart"])


def _instances(p: dict[str, float], u: Usage) -> tuple[dict[str, float], float, list[str]]:
    per_instance = u.users_per_instance
    service = (USERS / per_instance * p["instance_hour_usd"] * HOURS_PER_MONTH
               if per_instance and per_instance > 0 else math.nan)
    return ({"service instances": service,
             "redis nodes": USERS * u.redis_nodes_per_user * p["redis_node_hour_usd"]
             * HOURS_PER_MONTH,
             "postgresql nodes": USERS * u.pg_nodes_per_user * p["pg_node_hour_usd"]
             * HOURS_PER_MONTH}, 0.0,
            [f"{per_instance or float('nan'):,.0f} users per instance (plan, at headroom); "
             "fractional instances and nodes (linear in users)"])


MODELS: dict[str, Model] = {"lambda_http": _lambda_http, "apigw_websocket": _apigw_websocket,
                            "durable_objects": _durable_objects, "instances": _instances}
REQUIRED: dict[str, tuple[str, ...]] = {
    "lambda_http": ("lambda_request_per_million_usd", "lambda_gb_second_usd", "lambda_memory_mb",
                    "apigw_http_request_per_million_usd", "apigw_http_request_unit_kb"),
    "apigw_websocket": ("message_per_million_usd", "message_unit_kb",
                        "connection_minute_per_million_usd", "max_connection_s",
                        "idle_timeout_s", "keepalive_s", "reconnect_messages"),
    "durable_objects": ("request_per_million_usd", "gb_second_per_million_usd",
                        "object_memory_mb", "incoming_messages_per_request", "handler_ms",
                        "connects_per_user_day", "plan_minimum_month_usd"),
    "instances": ("instance_hour_usd", "redis_node_hour_usd", "pg_node_hour_usd"),
}


def as_dict(est: CostEstimate) -> dict[str, Any]:
    return {"table": est.table, "title": est.title,
            "per_1000_users_month_usd": est.per_1000_users_month_usd, "items": est.items,
            "fixed_month_usd": est.fixed_month_usd, "assumptions": est.assumptions,
            "sources": est.sources, "checked": est.checked}
