"""Exact steady-state results for the queues the simulator is checked against.

All formulas are textbook closed forms (Kleinrock, *Queueing Systems* vol. 1;
Gross & Harris, *Fundamentals of Queueing Theory*). Rates are per second,
times in seconds. ``c`` is the number of servers, ``K`` the system capacity
(customers in service plus waiting), ``λ`` the arrival rate, ``μ`` the
service rate of one server.

- M/M/1 and M/M/c via Erlang C, computed through the numerically stable
  Erlang B recursion (no factorials, fine for hundreds of servers).
- M/G/1 (Pollaczek-Khinchine) and its special case M/D/1.
- M/M/c/K: blocking probability, and L, W of admitted customers.
- Retries under independent failures: expected attempts and success.

Only the standard library is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "QueueMetrics",
    "erlang_b",
    "erlang_c",
    "mg1",
    "md1",
    "mm1",
    "mmc",
    "mmck",
    "mmc_wait_quantile",
    "retry_expected_attempts",
    "retry_success_probability",
]


@dataclass(frozen=True, slots=True)
class QueueMetrics:
    """Steady-state measures of one queue.

    ``p_wait``: probability an admitted arrival waits; ``wq``/``w``: mean time
    in queue / in system of admitted customers; ``lq``/``l``: mean number in
    queue / in system; ``rho``: utilisation of one server (carried load ÷ c);
    ``p_block``: probability an arrival is refused (0 without a capacity
    limit); ``throughput``: admitted customers per second.
    """

    rho: float
    p_wait: float
    wq: float
    w: float
    lq: float
    l: float  # noqa: E741 - the customary name
    p_block: float
    throughput: float


def _check_rates(lam: float, mu: float) -> None:
    if not (lam > 0 and math.isfinite(lam)):
        raise ValueError(f"arrival rate must be > 0 and finite, got {lam!r}")
    if not (mu > 0 and math.isfinite(mu)):
        raise ValueError(f"service rate must be > 0 and finite, got {mu!r}")


def _check_servers(c: int) -> None:
    if not (isinstance(c, int) and c >= 1):
        raise ValueError(f"servers must be an integer >= 1, got {c!r}")


def erlang_b(c: int, a: float) -> float:
    """Erlang B: blocking probability of M/M/c/c with offered load ``a = λ/μ``."""
    _check_servers(c)
    if a < 0:
        raise ValueError(f"offered load must be >= 0, got {a!r}")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Erlang C: probability that an arrival waits in M/M/c, ``a = λ/μ < c``."""
    if not a < c:
        raise ValueError(f"unstable: offered load {a!r} must be < servers {c!r}")
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


def mmc(lam: float, mu: float, c: int) -> QueueMetrics:
    """M/M/c (FIFO, infinite queue); requires λ < cμ."""
    _check_rates(lam, mu)
    _check_servers(c)
    a = lam / mu
    if a >= c:
        raise ValueError(f"unstable: λ={lam!r} must be < c·μ={c * mu!r}")
    pw = erlang_c(c, a)
    wq = pw / (c * mu - lam)
    w = wq + 1.0 / mu
    return QueueMetrics(a / c, pw, wq, w, lam * wq, lam * w, 0.0, lam)


def mm1(lam: float, mu: float) -> QueueMetrics:
    """M/M/1: L = rho/(1-rho), W = 1/(μ-λ)."""
    return mmc(lam, mu, 1)


def mmc_wait_quantile(lam: float, mu: float, c: int, q: float) -> float:
    """The ``q``-quantile of the waiting time in queue of M/M/c (FIFO).

    P(Wq > t) = C(c, a) · exp(-(cμ - λ) t); the quantile is 0 when q ≤ 1 - C.
    """
    if not 0.0 <= q < 1.0:
        raise ValueError(f"quantile must be in [0, 1), got {q!r}")
    m = mmc(lam, mu, c)
    if q <= 1.0 - m.p_wait:
        return 0.0
    return math.log(m.p_wait / (1.0 - q)) / (c * mu - lam)


def mg1(lam: float, mean_service: float, scv: float) -> QueueMetrics:
    """M/G/1 by Pollaczek-Khinchine: Wq = λ E[S²] / (2 (1 - rho)).

    ``scv`` is the squared coefficient of variation of the service time
    (1 for exponential, 0 for deterministic), so E[S²] = (1 + scv) · E[S]².
    """
    _check_rates(lam, 1.0 / mean_service if mean_service > 0 else -1.0)
    if not (scv >= 0 and math.isfinite(scv)):
        raise ValueError(f"scv must be >= 0 and finite, got {scv!r}")
    rho = lam * mean_service
    if rho >= 1.0:
        raise ValueError(f"unstable: rho = λ·E[S] = {rho!r} must be < 1")
    es2 = (1.0 + scv) * mean_service * mean_service
    wq = lam * es2 / (2.0 * (1.0 - rho))
    w = wq + mean_service
    return QueueMetrics(rho, rho, wq, w, lam * wq, lam * w, 0.0, lam)


def md1(lam: float, mu: float) -> QueueMetrics:
    """M/D/1 (constant service time 1/μ): Wq = rho / (2μ(1 - rho))."""
    _check_rates(lam, mu)
    return mg1(lam, 1.0 / mu, 0.0)


def mmck(lam: float, mu: float, c: int, k: int) -> QueueMetrics:
    """M/M/c/K: ``k`` ≥ c places in the system; arrivals finding it full are lost.

    Any λ is allowed. ``w``, ``wq`` and ``p_wait`` are of admitted customers
    (Little's law with the admitted rate λ(1 - p_block)).
    """
    _check_rates(lam, mu)
    _check_servers(c)
    if not (isinstance(k, int) and k >= c):
        raise ValueError(f"capacity must be an integer >= servers ({c}), got {k!r}")
    a = lam / mu
    # Unnormalised p_n relative to p_0, built by the birth-death recursion.
    weights = [1.0]
    for n in range(1, k + 1):
        weights.append(weights[-1] * a / min(n, c))
    total = math.fsum(weights)
    p = [x / total for x in weights]
    p_block = p[k]
    l_sys = math.fsum(n * pn for n, pn in enumerate(p))
    lq = math.fsum((n - c) * pn for n, pn in enumerate(p) if n > c)
    admitted = lam * (1.0 - p_block)
    # An admitted arrival waits when it finds c..k-1 customers (PASTA, conditioned on admission).
    p_wait = math.fsum(p[c:k]) / (1.0 - p_block)
    busy = l_sys - lq  # mean number of busy servers
    return QueueMetrics(busy / c, p_wait, lq / admitted, l_sys / admitted, lq, l_sys, p_block, admitted)


def _check_retry(p: float, n: int) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"failure probability must be in [0, 1], got {p!r}")
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"max attempts must be an integer >= 1, got {n!r}")


def retry_expected_attempts(p: float, n: int) -> float:
    """Mean attempts per request with independent failure probability ``p``: 1 + p + … + p^(n-1)."""
    _check_retry(p, n)
    if p == 1.0:
        return float(n)
    return (1.0 - p**n) / (1.0 - p)


def retry_success_probability(p: float, n: int) -> float:
    """Probability that one of ``n`` independent attempts succeeds: 1 - p^n."""
    _check_retry(p, n)
    return 1.0 - p**n
