"""The recover-or-not map of the retry-storm notebook: load x trigger size, naive vs budgeted.

``python notebooks/make_data.py`` recomputes it into ``notebooks/data/storm_map.parquet``
(full horizon, seed 1, both policies); the notebook loads that file and can recompute it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd

from sim import run

from .scenarios import STORM_POLICIES, storm_scenario

__all__ = ["DATA_FILE", "LOADS", "SEED", "TRIGGERS", "Point", "compute", "load", "point", "points"]

DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "storm_map.parquet"
LOADS = (0.4, 0.5, 0.6, 0.7, 0.8)  # offered load as a share of the service's capacity
TRIGGERS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)  # seconds of the x4 slowdown
SEED = 1

Point = tuple[float, float, str]  # (load, trigger, policy)


def points() -> list[Point]:
    """Every cell of the map, for both policies."""
    return [(lo, tr, po) for po, lo, tr in itertools.product(STORM_POLICIES, LOADS, TRIGGERS)]


def point(load: float, trigger: float, policy: str, seed: int = SEED) -> dict[str, Any]:
    """One full-horizon run of the storm scenario, as a row of the map."""
    summary = run(storm_scenario(load, trigger, policy, short=False), seed=seed).summary
    recovery = summary["recovery_seconds"]
    return {
        "load": load,
        "trigger": trigger,
        "policy": policy,
        "seed": seed,
        "recovered": recovery is not None,
        "recovery_seconds": float("nan") if recovery is None else float(recovery),
        "success_ratio": float(summary["success_ratio"]),
        "amplification": float(summary["amplification"]),
    }


def _point(p: Point) -> dict[str, Any]:
    return point(*p)


def compute(
    cells: Iterable[Point] | None = None,
    *,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Run ``cells`` (default: all) on ``executor`` (default: a 2-process pool), calling
    ``progress(done, total)`` as runs finish; rows sorted by policy, load, trigger."""
    todo: Sequence[Point] = list(points() if cells is None else cells)
    own = executor is None
    pool = ProcessPoolExecutor(max_workers=2) if executor is None else executor
    rows = []
    try:
        futures = [pool.submit(_point, p) for p in todo]
        if progress is not None:
            progress(0, len(todo))
        for done, future in enumerate(as_completed(futures), start=1):
            rows.append(future.result())
            if progress is not None:
                progress(done, len(todo))
    finally:
        if own:
            pool.shutdown(cancel_futures=True)
    return _sorted(pd.DataFrame(rows))


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["policy", "load", "trigger"]).reset_index(drop=True)


def load(path: Path = DATA_FILE) -> pd.DataFrame:
    """The precomputed map (see the module docstring for how to regenerate it)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing; regenerate it with `python notebooks/make_data.py`")
    return _sorted(pd.read_parquet(path))


def main(path: Path = DATA_FILE) -> None:
    """Recompute the whole map with a progress bar and write it to ``path``."""
    from tqdm import tqdm

    bar = tqdm(total=len(points()), unit="run", desc="storm map")

    def progress(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()

    df = compute(progress=progress)
    bar.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)
    print(f"wrote {path} ({len(df)} runs)")
