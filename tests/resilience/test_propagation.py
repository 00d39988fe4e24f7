"""Deadline propagation headers: reserve, rounding, clamping, defaults and every parse rule."""

from __future__ import annotations

import math

import pytest

from resilience._config import ConfigError
from resilience.deadline import Deadline
from resilience.outcome import TimeoutSource
from resilience.timeouts import Counters, HeaderError, PropagationConfig, incoming, outgoing_headers

CFG = PropagationConfig(per_hop_reserve=0.015, max_budget=2.0)


def test_outgoing_subtracts_the_reserve_and_rounds_down() -> None:
    d = Deadline.after(10.0, 0.1)
    h = outgoing_headers(d, 10.0, trace_id="abc", config=CFG)
    assert h == {"X-Request-Deadline-Ms": "85", "X-Trace-Id": "abc", "X-Timeout-Chain": "85"}
    h = outgoing_headers(d, 10.0004, config=CFG)  # 84.6 ms left -> 84, never rounded up
    assert h["X-Request-Deadline-Ms"] == "84"


def test_outgoing_appends_to_the_chain_like_the_seed_100_85_60() -> None:
    cfg = PropagationConfig(per_hop_reserve=0.0)
    d = Deadline.after(0.0, 0.1)
    assert outgoing_headers(d, 0.0, config=cfg)["X-Timeout-Chain"] == "100"
    assert outgoing_headers(d, 0.015, chain=[100], config=cfg)["X-Timeout-Chain"] == "100,85"
    assert outgoing_headers(d, 0.040, chain=(100, 85), config=cfg)["X-Timeout-Chain"] == "100,85,60"


def test_outgoing_never_negative_and_no_budget_for_an_endless_deadline() -> None:
    assert outgoing_headers(Deadline.after(0.0, 0.01), 0.5, config=CFG)["X-Request-Deadline-Ms"] == "0"
    assert outgoing_headers(Deadline.never(), 0.0, trace_id="t", config=CFG) == {"X-Trace-Id": "t"}
    assert outgoing_headers(Deadline.never(), 0.0, chain=[5], config=CFG) == {"X-Timeout-Chain": "5"}


def test_outgoing_keeps_the_newest_hops_and_checks_the_trace_id() -> None:
    cfg = PropagationConfig(per_hop_reserve=0.0, max_chain=3)
    h = outgoing_headers(Deadline.after(0.0, 0.05), 0.0, chain=[90, 80, 70], config=cfg)
    assert h["X-Timeout-Chain"] == "80,70,50"
    with pytest.raises(HeaderError) as info:
        outgoing_headers(Deadline.after(0.0, 1.0), 0.0, trace_id="has space", config=cfg)
    assert str(info.value) == "X-Trace-Id='has space': must be 1-128 characters of A-Z a-z 0-9 . _ : -"


def test_incoming_derives_the_deadline_from_the_budget() -> None:
    counters = Counters()
    headers = {"x-request-deadline-ms": "85", "X-TRACE-ID": "t-1", "X-Timeout-Chain": "100, 85"}
    inc = incoming(headers, 50.0, CFG, counters=counters)
    assert inc.budget == 0.085 and inc.deadline.expires_at == pytest.approx(50.085)
    assert (inc.trace_id, inc.chain, inc.clamped, inc.explicit) == ("t-1", (100, 85), False, True)
    assert inc.deadline.explicit
    assert counters.total("resilience_deadline_clamped_total") == 0


def test_incoming_cuts_a_budget_above_the_maximum_and_counts_it() -> None:
    counters = Counters()
    inc = incoming(
        [("X-Request-Deadline-Ms", "60000")], 1.0, CFG, source=TimeoutSource.GATEWAY, counters=counters
    )
    assert inc.budget == 2.0 and inc.clamped and inc.deadline.expires_at == 3.0
    assert counters.value("resilience_deadline_clamped_total", source="gateway") == 1
    exact = incoming({"X-Request-Deadline-Ms": "2000"}, 0.0, CFG, counters=counters)
    assert not exact.clamped and exact.budget == 2.0
    assert counters.total("resilience_deadline_clamped_total") == 1


def test_incoming_without_a_header_uses_the_default_and_marks_it_defaulted() -> None:
    inc = incoming({}, 5.0, CFG)
    assert inc.budget == 2.0 and not inc.explicit and not inc.deadline.explicit
    assert inc.trace_id is None and inc.chain == ()
    inc = incoming({}, 5.0, PropagationConfig(max_budget=2.0, default_budget=0.5))
    assert inc.budget == 0.5 and inc.deadline.expires_at == 5.5


def test_a_zero_budget_is_already_expired() -> None:
    inc = incoming({"X-Request-Deadline-Ms": "0"}, 3.0, CFG)
    assert inc.deadline.expired(3.0) and inc.explicit


def test_custom_header_names() -> None:
    cfg = PropagationConfig(deadline_header="Grpc-Budget", trace_header="Trace", chain_header="Chain")
    h = outgoing_headers(Deadline.after(0.0, 1.0), 0.0, trace_id="t", config=cfg)
    assert set(h) == {"Grpc-Budget", "Trace", "Chain"}
    inc = incoming(h, 0.0, cfg)
    assert inc.budget == 0.95 and inc.chain == (950,) and inc.trace_id == "t"


NAME_RULE = "must be an HTTP header name (letters, digits, '-')"
BUDGET_RULE = "must be a whole number of milliseconds >= 0 (at most 12 digits)"
CHAIN_DIGITS = "entries must be whole milliseconds >= 0, comma-separated"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X-Request-Deadline-Ms": "-5"}, f"X-Request-Deadline-Ms='-5': {BUDGET_RULE}"),
        ({"X-Request-Deadline-Ms": "1.5"}, f"X-Request-Deadline-Ms='1.5': {BUDGET_RULE}"),
        ({"X-Request-Deadline-Ms": ""}, f"X-Request-Deadline-Ms='': {BUDGET_RULE}"),
        ({"X-Request-Deadline-Ms": "1e3"}, f"X-Request-Deadline-Ms='1e3': {BUDGET_RULE}"),
        ({"X-Request-Deadline-Ms": "9" * 13}, f"X-Request-Deadline-Ms='{'9' * 13}': {BUDGET_RULE}"),
        ({"X-Trace-Id": ""}, "X-Trace-Id='': must be 1-128 characters of A-Z a-z 0-9 . _ : -"),
        (
            {"X-Trace-Id": "a" * 129},
            f"X-Trace-Id='{'a' * 129}': must be 1-128 characters of A-Z a-z 0-9 . _ : -",
        ),
        ({"X-Trace-Id": "a\u00e9"}, "X-Trace-Id='a\u00e9': must be 1-128 characters of A-Z a-z 0-9 . _ : -"),
        ({"X-Timeout-Chain": "100,x"}, f"X-Timeout-Chain='100,x': {CHAIN_DIGITS}"),
        ({"X-Timeout-Chain": "100,,60"}, f"X-Timeout-Chain='100,,60': {CHAIN_DIGITS}"),
        ({"X-Timeout-Chain": "60,85"}, "X-Timeout-Chain='60,85': entries must not increase from hop to hop"),
        ({"X-Timeout-Chain": "9,8,7,6"}, "X-Timeout-Chain='9,8,7,6': must have at most 3 entries"),
    ],
)
def test_malformed_headers_name_header_value_and_rule(headers: dict[str, str], message: str) -> None:
    cfg = PropagationConfig(max_chain=3)
    with pytest.raises(HeaderError) as info:
        incoming(headers, 0.0, cfg)
    assert str(info.value) == message
    assert info.value.header in headers


def test_a_header_given_twice_is_malformed() -> None:
    with pytest.raises(HeaderError) as info:
        incoming([("X-Request-Deadline-Ms", "10"), ("x-request-deadline-ms", "20")], 0.0, CFG)
    assert str(info.value) == "x-request-deadline-ms='20': must appear at most once"
    assert incoming([("Other", "1"), ("Other", "2")], 0.0, CFG).budget == 2.0  # unrelated headers are ignored


def test_surrounding_spaces_are_tolerated() -> None:
    inc = incoming(
        {"X-Request-Deadline-Ms": " 40 ", "X-Trace-Id": " t ", "X-Timeout-Chain": " 50 , 40 "}, 0.0, CFG
    )
    assert (inc.budget, inc.trace_id, inc.chain) == (0.04, "t", (50, 40))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"per_hop_reserve": -0.1}, "PropagationConfig.per_hop_reserve=-0.1: must be >= 0 and finite"),
        ({"per_hop_reserve": math.inf}, "PropagationConfig.per_hop_reserve=inf: must be >= 0 and finite"),
        ({"max_budget": 0}, "PropagationConfig.max_budget=0.0: must be > 0 and finite"),
        ({"default_budget": -1}, "PropagationConfig.default_budget=-1.0: must be > 0 and finite"),
        ({"default_budget": 40}, "PropagationConfig.default_budget=40.0: must be <= max_budget (30.0)"),
        ({"max_chain": 0}, "PropagationConfig.max_chain=0: must be in 1..1024"),
        ({"deadline_header": "X Deadline"}, f"PropagationConfig.deadline_header='X Deadline': {NAME_RULE}"),
        ({"trace_header": ""}, f"PropagationConfig.trace_header='': {NAME_RULE}"),
        ({"chain_header": "-x"}, f"PropagationConfig.chain_header='-x': {NAME_RULE}"),
        ({"trace_header": "x-request-deadline-ms"},
         "PropagationConfig.trace_header='x-request-deadline-ms': must differ from deadline_header"),
        ({"chain_header": "x-trace-id"},
         "PropagationConfig.chain_header='x-trace-id': must differ from deadline_header and trace_header"),
    ],
)  # fmt: skip
def test_config_rules(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        PropagationConfig(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_config_round_trip() -> None:
    for cfg in (
        PropagationConfig(),
        PropagationConfig(
            per_hop_reserve=0,
            max_budget=3,
            default_budget=1,
            max_chain=4,
            deadline_header="D",
            trace_header="T",
            chain_header="C",
        ),
    ):
        assert PropagationConfig.from_dict(cfg.to_dict()) == cfg


TRACE_RULE = "must be 1-128 characters of A-Z a-z 0-9 . _ : -"


@pytest.mark.parametrize("trace_id", ["4bf92f35\n", "4bf92f35\r\n", "4bf92f35\nX-Injected: 1", "\n"])
def test_outgoing_never_emits_a_trace_id_with_a_line_break(trace_id: str) -> None:
    try:
        emitted = outgoing_headers(Deadline.after(0.0, 1.0), 0.0, trace_id=trace_id, config=CFG)
    except HeaderError as exc:
        assert str(exc) == f"X-Trace-Id={trace_id!r}: {TRACE_RULE}"
    else:
        assert "\n" not in emitted["X-Trace-Id"], f"emitted {emitted['X-Trace-Id']!r} as a header value"


@pytest.mark.parametrize("field", ["deadline_header", "trace_header", "chain_header"])
def test_a_header_name_with_a_trailing_newline_is_not_a_header_name(field: str) -> None:
    with pytest.raises(ConfigError) as info:
        PropagationConfig(**{field: "X-Custom\n"})  # type: ignore[arg-type]
    assert str(info.value) == f"PropagationConfig.{field}='X-Custom\\n': {NAME_RULE}"


@pytest.mark.parametrize(
    ("headers", "header"),
    [
        ({"X-Request-Deadline-Ms": "40\n0"}, "X-Request-Deadline-Ms"),
        ({"X-Timeout-Chain": "50\n9,40"}, "X-Timeout-Chain"),
        ({"X-Trace-Id": "a\nb"}, "X-Trace-Id"),
    ],
)
def test_incoming_refuses_a_line_break_inside_a_value(headers: dict[str, str], header: str) -> None:
    with pytest.raises(HeaderError) as info:
        incoming(headers, 0.0, CFG)
    assert info.value.header == header
