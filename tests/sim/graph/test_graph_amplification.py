"""Retries multiply down a chain: 3 tiers x 3 attempts with errors at the bottom = 27 attempts there."""

from __future__ import annotations

from graphcase import chain, run

THREE = {"max_attempts": 3, "backoff": {"type": "constant", "base": 0.01}}


def three_tiers(error_probability: float) -> dict[str, object]:
    data = chain(
        {"a": 0.001, "b": 0.001, "c": 0.001},
        client={"retry": THREE},
        a_b={"retry": THREE},
        b_c={"retry": THREE},
    )
    data["services"]["c"]["errors"] = [{"probability": error_probability, "status": 503}]  # type: ignore[index]
    data["clients"]["web"]["workload"] = {"type": "fixed", "requests": 4}  # type: ignore[index]
    return data


def test_errors_at_the_bottom_multiply_attempts_by_the_product_of_the_tiers() -> None:
    r = run(three_tiers(1.0))
    s = r.summary
    requests = s["requests"]
    assert requests == 4
    assert s["failures"] == {"retries_exhausted": 4}
    tiers, edges = s["tiers"], s["edges"]
    # attempts reaching each tier per client request: 3, 3 * 3, 3 * 3 * 3
    assert [tiers[t]["arrivals"] for t in "abc"] == [3 * requests, 9 * requests, 27 * requests]
    assert [tiers[t]["amplification"] for t in "abc"] == [3.0, 9.0, 27.0]
    # per hop: each execution of an edge's pipeline made three attempts
    assert edges["a_b"]["amplification"] == edges["b_c"]["amplification"] == 3.0
    assert edges["a_b"]["requests"] == 3 * requests and edges["b_c"]["requests"] == 9 * requests
    assert s["amplification"] == 3.0


def test_without_errors_every_hop_makes_one_attempt() -> None:
    """Negative control: the same graph without errors sends one attempt per hop."""
    s = run(three_tiers(0.0)).summary
    assert s["successes"] == 4
    assert [s["tiers"][t]["arrivals"] for t in "abc"] == [4, 4, 4]
    assert s["edges"]["b_c"]["amplification"] == 1.0
