"""The seed's chapter 5 tables: recovery time as the issue defines it, the seed's figures beside the
model's (calibration, per-layer p99), recovery over seeds and its paired difference, Markdown."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LAYERS",
    "SEED_P99_MS",
    "SEED_RECOVERY_S",
    "calibration_table",
    "censored",
    "fmean",
    "layer_table",
    "markdown",
    "paired_recovery",
    "recovery_table",
    "recovery_time",
]

LAYERS = ("L4", "L7", "gateway", "DB")
# the seed's table (ms): normal-period and fault-period p99 per layer
SEED_P99_MS: Mapping[str, tuple[float, float]] = {
    "L4": (8.2, 426.7),
    "L7": (15.6, 318.4),
    "gateway": (42.3, 1206.9),
    "DB": (28.5, 1893.2),
}
SEED_RECOVERY_S: Mapping[str, float] = {"static": 47.0, "defended": 3.2}
CALIBRATION_TOLERANCE = 0.10
WINDOW = 5.0
THRESHOLD = 0.95


def recovery_time(
    offered: Sequence[float],
    good: Sequence[float],
    *,
    step: float,
    stall_end: float,
    window: float = WINDOW,
    second: float = 1.0,
    threshold: float = THRESHOLD,
) -> float | None:
    """Seconds from ``stall_end`` to the start of the first ``window`` whose every ``second`` has
    ``good >= threshold * offered`` (and some offered); None if no such window fits in the data.

    ``offered[k]`` and ``good[k]`` count the requests *arriving* in ``[k*step, (k+1)*step)``; ``good``
    are the successful, non-degraded answers within the SLO. Window starts are tried every ``step``
    from ``stall_end`` on, so the result has the resolution ``step``.
    """
    if len(offered) != len(good):
        raise ValueError(f"offered has {len(offered)} bins, good {len(good)}: must be equal")
    if not (step > 0 and second > 0 and window >= second):
        raise ValueError(f"step={step}, second={second}, window={window}: need step > 0, window >= second")
    per = round(second / step)
    if per < 1 or not math.isclose(per * step, second, rel_tol=1e-9):
        raise ValueError(f"second={second}: must be a whole number of steps ({step})")
    seconds = round(window / second)
    cum_o = [0.0]
    cum_g = [0.0]
    for o, g in zip(offered, good, strict=True):
        cum_o.append(cum_o[-1] + o)
        cum_g.append(cum_g[-1] + g)
    first = math.ceil(stall_end / step - 1e-9)
    n = len(offered)
    for i0 in range(max(first, 0), n - seconds * per + 1):
        ok = True
        for m in range(seconds):
            a, b = i0 + m * per, i0 + (m + 1) * per
            off = cum_o[b] - cum_o[a]
            if off <= 0 or cum_g[b] - cum_g[a] < threshold * off:
                ok = False
                break
        if ok:
            return max(0.0, i0 * step - stall_end)
    return None


def _number(x: Any, digits: int) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        if math.isnan(x):
            return "—"
        return f"{x:.{digits}f}"
    return str(x)


def markdown(df: pd.DataFrame, digits: int = 1) -> str:
    """A GitHub-flavoured Markdown table of ``df`` (floats with ``digits`` decimals, None/NaN as —)."""
    head = [str(c) for c in df.columns]
    rows = [[_number(v, digits) for v in rec] for rec in df.itertuples(index=False, name=None)]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def calibration_table(
    model_ms: Mapping[str, float], tolerance: float = CALIBRATION_TOLERANCE
) -> pd.DataFrame:
    """Normal-period p99 per layer (ms): the seed's, the model's, their ratio, whether within ±tolerance."""
    import pandas as pd

    rows = []
    for layer in LAYERS:
        seed = SEED_P99_MS[layer][0]
        got = model_ms.get(layer, math.nan)
        ratio = got / seed
        rows.append(
            {
                "layer": layer,
                "seed p99 (ms)": seed,
                "model p99 (ms)": got,
                "model / seed": ratio,
                f"within ±{tolerance:.0%}": bool(abs(ratio - 1.0) <= tolerance),
            }
        )
    return pd.DataFrame(rows)


def layer_table(normal_ms: Mapping[str, float], fault_ms: Mapping[str, float]) -> pd.DataFrame:
    """Per layer: the seed's normal and fault p99 beside the model's (ms)."""
    import pandas as pd

    rows = []
    for layer in LAYERS:
        sn, sf = SEED_P99_MS[layer]
        rows.append(
            {
                "layer": layer,
                "seed normal p99": sn,
                "model normal p99": normal_ms.get(layer, math.nan),
                "seed fault p99": sf,
                "model fault p99": fault_ms.get(layer, math.nan),
            }
        )
    return pd.DataFrame(rows)


def censored(values: Iterable[float | None], cap: float) -> list[float]:
    """Recovery times with "never" (None) counted as ``cap`` (the time left in the run)."""
    return [cap if v is None or math.isnan(v) else float(v) for v in values]


def _interval(values: list[float], level: float) -> tuple[float, float]:
    from sim.experiments.stats import t_interval

    if len(values) < 2:
        return (values[0] if values else math.nan), math.nan
    return t_interval(values, level)


def recovery_table(
    runs: pd.DataFrame, *, cap: float, level: float = 0.95, configs: Sequence[str] = ("static", "defended")
) -> pd.DataFrame:
    """Recovery per configuration over seeds: mean, interval, min, max, never-recovered count, the seed's.

    ``runs`` has columns ``config``, ``seed``, ``recovery_s`` (None: never recovered; counted as ``cap``
    seconds in the mean, so "never" is never better than any recovery).
    """
    import pandas as pd

    rows = []
    for config in configs:
        part = runs[runs.config == config].sort_values("seed")
        raw = list(part.recovery_s)
        vals = censored(raw, cap)
        mean, half = _interval(vals, level)
        rows.append(
            {
                "configuration": config,
                "seeds": len(vals),
                "mean (s)": mean,
                f"±{level:.0%} (s)": half,
                "min (s)": min(vals) if vals else math.nan,
                "max (s)": max(vals) if vals else math.nan,
                "never": sum(1 for v in raw if v is None or (isinstance(v, float) and math.isnan(v))),
                "seed says (s)": SEED_RECOVERY_S.get(config, math.nan),
            }
        )
    return pd.DataFrame(rows)


def paired_recovery(
    runs: pd.DataFrame, *, cap: float, level: float = 0.95, a: str = "static", b: str = "defended"
) -> dict[str, float]:
    """The paired per-seed difference ``a - b`` of recovery (seconds): mean, interval half-width, n."""
    left = runs[runs.config == a].set_index("seed").recovery_s
    right = runs[runs.config == b].set_index("seed").recovery_s
    seeds = sorted(set(left.index) & set(right.index))
    diffs = [censored([left[s]], cap)[0] - censored([right[s]], cap)[0] for s in seeds]
    mean, half = _interval(diffs, level)
    return {"mean": mean, "half_width": half, "low": mean - half, "high": mean + half, "n": float(len(diffs))}


def fmean(values: Iterable[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return statistics.fmean(vals) if vals else math.nan
