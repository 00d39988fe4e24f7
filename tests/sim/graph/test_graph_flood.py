"""A tier's flood detector sends a flagged IP's new connections down its flood route (degraded)."""

from __future__ import annotations

from typing import Any

from graphcase import chain, const, run


def flooded(threshold: int) -> dict[str, Any]:
    services = {
        "l4": {
            "workers": 0,
            "routes": {
                "default": {"steps": [{"calls": ["to_app"]}]},
                "static": {"steps": [{"calls": ["to_static"]}]},
            },
            "flood": {"threshold": threshold, "window": 1.0},
            "flood_route": "static",
        },
        "app": {"workers": 0, "service_time": const(0.01)},
        "static": {"workers": 0, "service_time": const(0.005)},
    }
    clients = {
        "web": {"target": "l4", "ips": 100, "workload": {"type": "poisson", "rate": 50.0}},
        "flood": {
            "target": "l4",
            "ips": 1,
            "new_connections": True,
            "workload": {"type": "poisson", "rate": 50.0},
        },
    }
    edges = {"to_app": {"caller": "l4", "target": "app"}, "to_static": {"caller": "l4", "target": "static"}}
    return {"duration": 10.0, "clients": clients, "services": services, "edges": edges}


def test_a_flagged_ip_is_served_by_the_flood_route_and_counted_degraded() -> None:
    r = run(flooded(threshold=10))
    s = r.summary
    flood = r.model.groups["flood"]
    web = r.model.groups["web"]
    assert sum(flood.c_degraded_answers.values()) > 300  # all but ~10 per second
    assert web.c_degraded_answers == {}  # keep-alive clients open no new connections
    assert s["degraded_answers"] == {"l4:static": sum(flood.c_degraded_answers.values())}
    assert s["tiers"]["static"]["arrivals"] == r.model.tiers["l4"].flagged
    assert s["tiers"]["app"]["arrivals"] >= s["groups"]["web"]["requests"]


def test_below_the_threshold_nothing_is_diverted() -> None:
    """Negative control: a threshold above the flood's rate flags nothing."""
    r = run(flooded(threshold=1000))
    assert r.summary["tiers"]["static"]["arrivals"] == 0
    assert r.summary["degraded_answers"] == {}


def defended(threshold: int) -> dict[str, Any]:
    """The flood scenario without its own flood route, defended by ``[defences]``: flood diversion
    at l4 and a tuner cutting l4's tagged route timeout once its p99 reaches 5 ms."""
    data = flooded(threshold)
    l4 = data["services"]["l4"]
    del l4["flood"], l4["flood_route"], l4["routes"]["static"]
    l4["routes"]["default"].update(timeout=2.0, tag="page")
    data["edges"].pop("to_static")
    data["services"].pop("static")
    data["defences"] = {
        "flood": {
            "service": "l4",
            "threshold": threshold,
            "window": 1.0,
            "answer_time": 0.005,
            "label": "static_page",
        },
        "tuners": [{"service": "l4", "route": "default", "tag": "page", "trigger": 0.005, "cut_to": 0.5}],
    }
    return data


def test_the_defences_divert_a_flood_and_cut_a_timeout_at_run_time() -> None:
    r = run(defended(threshold=10))
    s = r.summary
    l4 = s["tiers"]["l4"]
    assert l4["diverted"] > 300
    assert s["degraded_answers"] == {"static_page": l4["diverted"]}
    parts = sum(l4["rejected"].values()) + l4["diverted"] + l4["served"] + l4["in_flight_at_end"]
    assert l4["arrivals"] == parts
    (tuner,) = r.model.defences.tuners
    assert tuner.cut_at is not None  # app answers in 10 ms: the p99 reached the 5 ms trigger
    assert r.model.tiers["l4"].registry.timeout_for(tag="page") == 0.5


def test_below_the_threshold_the_defences_divert_nothing() -> None:
    """Negative control: a threshold above the flood's rate."""
    r = run(defended(threshold=1000))
    assert r.summary["tiers"]["l4"]["diverted"] == 0


def per_ip_limit_behind_a_proxy(forward_ip: bool) -> dict[str, Any]:
    """100 client IPs at 2 rps each through ``a`` to ``b``, whose gate allows 20 rps per IP."""
    data = chain({"a": 0.0, "b": 0.001}, a_b={"forward_ip": forward_ip})
    data["services"]["b"]["gate"] = {"rate_limit": {"rate": 20.0, "burst": 20.0}}
    data["clients"]["web"].update(ips=100, workload={"type": "poisson", "rate": 200.0})
    data["duration"] = 10.0
    return data


def test_the_client_ip_travels_to_inner_tiers_unless_not_forwarded() -> None:
    forwarded = run(per_ip_limit_behind_a_proxy(True)).summary["tiers"]["b"]
    assert forwarded["rejected"] == {} and forwarded["arrivals"] > 1500
    hidden = run(per_ip_limit_behind_a_proxy(False)).summary["tiers"]["b"]
    # every request seems to come from a's one replica: 20 of 200 per second pass
    assert hidden["rejected"]["rate_limited"] > 0.8 * hidden["arrivals"]
