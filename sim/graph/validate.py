"""Load-time checks of a call graph: names that must exist, fan-out arity, and no cycles."""

from __future__ import annotations

import math
from typing import Any

from resilience._config import ConfigError

__all__ = ["graph_problems", "route_names"]


def route_names(svc: Any) -> tuple[str, ...]:
    """The routes a service answers: its own, or the implicit ``default`` of a leaf."""
    return tuple(svc.routes) if svc.routes else ("default",)


def graph_problems(sc: Any) -> list[ConfigError]:
    """Every call-graph rule ``sc`` breaks, each a ``ConfigError`` naming its dotted path."""
    out: list[ConfigError] = []

    def bad(path: str, value: object, text: str) -> None:
        out.append(ConfigError("Scenario", path, value, text))

    services, edges, links = sc.services, sc.edges, sc.links
    used_by: dict[str, set[str]] = {}  # edge -> services whose routes call it
    for sname, svc in services.items():
        for rname, route in svc.routes.items():
            for i, step in enumerate(route.steps):
                where = f"services.{sname}.routes.{rname}.steps[{i}]"
                for j, ename in enumerate(step.calls):
                    edge = edges.get(ename)
                    if edge is None:
                        bad(f"{where}.calls[{j}]", ename, _must_name("an edge", edges))
                        continue
                    used_by.setdefault(ename, set()).add(sname)
                    if edge.caller != sname:
                        bad(f"{where}.calls[{j}]", ename, f"must be an edge whose caller is {sname}")
                if len(set(step.calls)) != len(step.calls):
                    bad(f"{where}.calls", list(step.calls), "must not name an edge twice")
                n = len(step.calls)
                if step.mode == "first_k":
                    if step.k is None or not 1 <= step.k <= n:
                        bad(f"{where}.k", step.k, f"must be in 1..{n} (the number of calls) for mode first_k")
                elif step.k is not None:
                    bad(f"{where}.k", step.k, "must be left out unless mode is first_k")
    for ename, edge in edges.items():
        where = f"edges.{ename}"
        if edge.caller not in services:
            bad(f"{where}.caller", edge.caller, _must_name("a service", services))
        elif edge.caller not in used_by.get(ename, ()):
            bad(f"{where}.caller", edge.caller, "must be a service whose routes call this edge")
        target = services.get(edge.target)
        if target is None:
            bad(f"{where}.target", edge.target, _must_name("a service", services))
        elif edge.route not in route_names(target):
            bad(
                f"{where}.route",
                edge.route,
                f"must name a route of {edge.target} ({_known(route_names(target))})",
            )
        if edge.link is not None and edge.link not in links:
            bad(f"{where}.link", edge.link, _must_name("a link", links))
    for gname, g in sc.clients.items():
        target = services.get(g.target)
        if target is None:
            continue  # reported with clients.<g>.target
        names = route_names(target)
        if not g.routes and "default" not in names:
            bad(
                f"clients.{gname}.routes", {}, f"must choose among the routes of {g.target} ({_known(names)})"
            )
        for rname, weight in g.routes.items():
            if rname not in names:
                bad(
                    f"clients.{gname}.routes.{rname}",
                    weight,
                    f"must name a route of {g.target} ({_known(names)})",
                )
            elif (
                isinstance(weight, bool)
                or not isinstance(weight, (int, float))
                or not (0 < weight < math.inf)
            ):
                bad(f"clients.{gname}.routes.{rname}", weight, "must be a weight > 0 and finite")
    out.extend(_cycles(sc))
    return out


def _must_name(what: str, table: Any) -> str:
    return f"must name {what} ({_known(table)})"


def _known(names: Any) -> str:
    return "known: " + (", ".join(sorted(names)) or "none")


def _cycles(sc: Any) -> list[ConfigError]:
    """One problem per cycle of services through edges, named at the edge that closes it."""
    succ: dict[str, list[tuple[str, str]]] = {}
    for ename, edge in sorted(sc.edges.items()):
        if edge.caller in sc.services and edge.target in sc.services:
            succ.setdefault(edge.caller, []).append((edge.target, ename))
    out: list[ConfigError] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(v: str) -> None:
        state[v] = 1
        path.append(v)
        for w, ename in succ.get(v, []):
            if state.get(w) == 1:
                loop = [*path[path.index(w) :], w]
                text = f"must not close a cycle ({' -> '.join(loop)})"
                out.append(ConfigError("Scenario", f"edges.{ename}.target", w, text))
            elif w not in state:
                visit(w)
        path.pop()
        state[v] = 2

    for v in sorted(succ):
        if v not in state:
            visit(v)
    return out
