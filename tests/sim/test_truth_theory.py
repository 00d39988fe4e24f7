"""The exact formulas in sim.experiments.theory against textbook values and independent forms."""

from __future__ import annotations

import math
import re

import pytest

from sim.experiments import theory as th


def direct_erlang_c(c: int, a: float) -> float:
    """Erlang C written with factorials, as in the textbooks."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_mm1_textbook_values() -> None:
    m = th.mm1(0.5, 1.0)
    assert (m.rho, m.p_wait) == pytest.approx((0.5, 0.5))
    assert (m.l, m.lq, m.w, m.wq) == pytest.approx((1.0, 0.5, 2.0, 1.0))
    m = th.mm1(8.0, 10.0)  # rho = 0.8: L = 4, W = 1/(μ-λ) = 0.5
    assert (m.l, m.w, m.wq, m.lq) == pytest.approx((4.0, 0.5, 0.4, 3.2))


def test_mm2_at_half_load_waits_with_probability_one_third() -> None:
    m = th.mmc(1.0, 1.0, 2)
    assert m.p_wait == pytest.approx(1 / 3)
    assert (m.lq, m.wq, m.w, m.l) == pytest.approx((1 / 3, 1 / 3, 4 / 3, 4 / 3))


@pytest.mark.parametrize(("c", "a"), [(1, 0.3), (2, 1.5), (4, 3.2), (11, 10.0), (30, 27.5), (60, 40.0)])
def test_erlang_c_recursion_matches_factorial_form(c: int, a: float) -> None:
    assert th.erlang_c(c, a) == pytest.approx(direct_erlang_c(c, a), rel=1e-12)


def test_erlang_c_stays_finite_for_many_servers() -> None:
    pw = th.erlang_c(500, 490.0)
    assert 0.0 < pw < 1.0


@pytest.mark.parametrize(("c", "a"), [(5, 1.36), (10, 4.46), (20, 12.03)])
def test_erlang_b_matches_the_one_percent_table(c: int, a: float) -> None:
    # Published Erlang B tables: offered traffic carried by c lines at 1% blocking.
    assert th.erlang_b(c, a) == pytest.approx(0.01, abs=3e-4)


def test_mm4_benchmark_model() -> None:
    m = th.mmc(3.2, 1.0, 4)
    assert m.rho == pytest.approx(0.8)
    assert m.p_wait == pytest.approx(direct_erlang_c(4, 3.2))
    # the textbook value by the P0 form: P0 = 0.02730, Lq = P0 * a^c * rho / (c! * (1 - rho)^2) = 2.3857
    assert (m.lq, m.wq, m.w, m.l) == pytest.approx((2.3857, 0.74554, 1.74554, 5.5857), abs=1e-4)


def test_wait_quantile_inverts_the_tail() -> None:
    lam, mu, c = 3.2, 1.0, 4
    pw = th.erlang_c(c, lam / mu)
    t = th.mmc_wait_quantile(lam, mu, c, 0.99)
    assert pw * math.exp(-(c * mu - lam) * t) == pytest.approx(0.01)
    assert th.mmc_wait_quantile(lam, mu, c, 1 - pw - 1e-9) == 0.0


def test_md1_textbook_values() -> None:
    m = th.md1(0.5, 1.0)  # Lq = rho²/(2(1-rho)) = 0.25
    assert (m.lq, m.wq, m.w, m.l) == pytest.approx((0.25, 0.5, 1.5, 0.75))
    # Deterministic service halves the M/M/1 queueing delay.
    assert m.wq == pytest.approx(th.mm1(0.5, 1.0).wq / 2)


def test_pk_with_exponential_service_is_mm1() -> None:
    g, m = th.mg1(0.7, 1.0, 1.0), th.mm1(0.7, 1.0)
    assert (g.wq, g.w, g.lq, g.l) == pytest.approx((m.wq, m.w, m.lq, m.l))


def test_mm1k_closed_form() -> None:
    lam, mu, k = 0.8, 1.0, 5
    rho = lam / mu
    m = th.mmck(lam, mu, 1, k)
    p_block = (1 - rho) * rho**k / (1 - rho ** (k + 1))
    l_sys = rho / (1 - rho) - (k + 1) * rho ** (k + 1) / (1 - rho ** (k + 1))
    assert m.p_block == pytest.approx(p_block)
    assert m.l == pytest.approx(l_sys)
    assert m.throughput == pytest.approx(lam * (1 - p_block))
    assert m.w == pytest.approx(l_sys / (lam * (1 - p_block)))
    assert m.rho == pytest.approx(m.throughput / mu)  # carried load


def test_mm1k_at_rho_one_is_uniform() -> None:
    m = th.mmck(1.0, 1.0, 1, 4)
    assert m.p_block == pytest.approx(1 / 5)
    assert m.l == pytest.approx(2.0)


def test_mmcc_is_erlang_b() -> None:
    m = th.mmck(4.46, 1.0, 10, 10)
    assert m.p_block == pytest.approx(th.erlang_b(10, 4.46))
    assert m.lq == 0.0 and m.p_wait == 0.0
    assert m.w == pytest.approx(1.0)


def test_mmck_tends_to_mmc_as_capacity_grows() -> None:
    big, inf = th.mmck(3.2, 1.0, 4, 400), th.mmc(3.2, 1.0, 4)
    assert big.p_block < 1e-30
    assert (big.l, big.w, big.wq, big.p_wait) == pytest.approx((inf.l, inf.w, inf.wq, inf.p_wait))


def test_mmck_accepts_overload() -> None:
    m = th.mmck(10.0, 1.0, 2, 6)
    assert m.throughput < 2.0 and m.p_block > 0.7


@pytest.mark.parametrize(
    ("p", "n", "attempts", "success"),
    [(0.0, 3, 1.0, 1.0), (0.5, 3, 1.75, 0.875), (1.0, 4, 4.0, 0.0), (0.1, 1, 1.0, 0.9)],
)
def test_retry_formulas(p: float, n: int, attempts: float, success: float) -> None:
    assert th.retry_expected_attempts(p, n) == pytest.approx(attempts)
    assert th.retry_success_probability(p, n) == pytest.approx(success)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: th.mmc(4.0, 1.0, 4), "unstable"),
        (lambda: th.mm1(0.0, 1.0), "arrival rate must be > 0"),
        (lambda: th.mm1(1.0, -1.0), "service rate must be > 0"),
        (lambda: th.mmc(1.0, 1.0, 0), "servers must be an integer >= 1"),
        (lambda: th.mmck(1.0, 1.0, 3, 2), "capacity must be an integer >= servers"),
        (lambda: th.md1(2.0, 1.0), "unstable"),
        (lambda: th.mg1(0.5, 1.0, -1.0), "scv must be >= 0"),
        (lambda: th.retry_expected_attempts(1.5, 3), "failure probability must be in [0, 1]"),
        (lambda: th.retry_success_probability(0.5, 0), "max attempts must be an integer >= 1"),
        (lambda: th.mmc_wait_quantile(1.0, 1.0, 2, 1.0), "quantile must be in [0, 1)"),
    ],
)
def test_invalid_inputs_are_refused(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_mmck_matches_the_explicit_state_probabilities() -> None:
    lam, mu, c, k = 1.4, 1.0, 2, 5
    a = lam / mu
    w = [
        a**n / math.factorial(n) if n <= c else a**n / (math.factorial(c) * c ** (n - c))
        for n in range(k + 1)
    ]
    p = [x / sum(w) for x in w]
    m = th.mmck(lam, mu, c, k)
    assert m.p_block == pytest.approx(p[k])
    assert m.l == pytest.approx(sum(n * pn for n, pn in enumerate(p)))
    assert m.lq == pytest.approx(sum((n - c) * pn for n, pn in enumerate(p) if n > c))
    assert m.w == pytest.approx(m.l / (lam * (1 - p[k])))
    assert m.p_wait == pytest.approx(sum(p[c:k]) / (1 - p[k]))
