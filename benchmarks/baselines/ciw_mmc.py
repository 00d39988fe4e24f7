"""Ciw M/M/c in the form Ciw's documentation teaches.

``ciw.create_network`` with exponential arrival and service distributions
and ``c`` servers, ``ciw.seed``, ``Simulation.simulate_until_max_customers``
and ``get_all_records``. Nothing here is tuned.
"""

from __future__ import annotations

import time

import ciw


def run(
    customers: int = 200_000, lam: float = 3.2, mu: float = 1.0, c: int = 4, seed: int = 1
) -> dict[str, float]:
    """Simulate until ``customers`` have finished; wall time includes building the model."""
    t0 = time.perf_counter()
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=lam)],
        service_distributions=[ciw.dists.Exponential(rate=mu)],
        number_of_servers=[c],
    )
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    sim.simulate_until_max_customers(customers, method="Finish")
    records = sim.get_all_records()
    elapsed = time.perf_counter() - t0
    waits = [r.waiting_time for r in records]
    times = [r.exit_date - r.arrival_date for r in records]
    return {
        "customers": float(len(records)),
        "seconds": elapsed,
        "customers_per_s": len(records) / elapsed,
        "mean_wait": sum(waits) / len(waits),
        "mean_time_in_system": sum(times) / len(times),
        "sim_seconds": sim.current_time,
    }


if __name__ == "__main__":
    print(run())
