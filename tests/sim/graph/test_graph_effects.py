"""Side effects of a write tier under retries (duplicates; idempotency keys prevent them) and an
edge's compensation queue taking failed calls as degraded answers."""

from __future__ import annotations

from typing import Any

from graphcase import chain, run


def writes(*, idempotent: bool, keys: bool) -> dict[str, Any]:
    """a -> db: db writes after 0.2 s, a gives up on each attempt after 0.1 s and retries."""
    retry = {"max_attempts": 3, "attempt_timeout": 0.1}
    data = chain({"a": 0.0, "db": 0.2}, a_db={"retry": retry, "idempotent": idempotent, "keys": keys})
    data["services"]["db"]["side_effects"] = {"remember": 60.0}
    data["clients"]["web"]["workload"] = {"type": "poisson", "rate": 20.0}
    data["duration"] = 10.0
    return data


def test_retried_writes_duplicate_side_effects_and_keys_prevent_them() -> None:
    idem = run(writes(idempotent=True, keys=False)).summary["tiers"]["db"]["side_effects"]
    assert idem["effects"] > 0 and idem["duplicates"] > 0  # every retry ran the write again
    keyed = run(writes(idempotent=False, keys=True)).summary["tiers"]["db"]["side_effects"]
    assert keyed["duplicates"] == 0
    assert keyed["replayed"] + keyed["in_progress"] > 0  # the retries reached db and were refused
    unkeyed = run(writes(idempotent=False, keys=False)).summary
    assert unkeyed["tiers"]["db"]["side_effects"]["duplicates"] == 0  # not retried at all
    failures, requests = unkeyed["edges"]["a_db"]["failures"], unkeyed["edges"]["a_db"]["requests"]
    assert list(failures) == ["not_idempotent"] and failures["not_idempotent"] >= requests - 1 > 100


def compensated(capacity: int) -> dict[str, Any]:
    data = chain({"a": 0.0, "db": 0.0})
    data["services"]["db"]["errors"] = [{"probability": 1.0, "status": 500}]
    data["edges"]["a_db"]["compensation"] = {"rate": 1.0, "capacity": capacity}
    data["clients"]["web"]["workload"] = {"type": "poisson", "rate": 10.0}
    data["duration"] = 10.0
    return data


def test_a_failed_call_goes_to_the_compensation_queue_until_it_is_full() -> None:
    s = run(compensated(5)).summary
    edge = s["edges"]["a_db"]
    q = edge["compensation"]
    assert edge["compensated"] == q["enqueued"] - q["dropped"] > 0
    assert q["dropped"] > 0  # 10 failures per second, drained at 1 per second, 5 places
    assert s["degraded_answers"] == {"a_db:compensation": edge["compensated"]}
    assert s["successes"] == edge["compensated"]
    assert sum(s["failures"].values()) == q["dropped"]
