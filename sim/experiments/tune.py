"""Auto-tuning with Optuna against one fixed objective.

Minimise the mean over seeds 0-4 of ``p99_after_fault`` (the p99 latency of successful requests
completed from the first fault's start on) subject to mean ``success_ratio`` >= 0.99 and mean
``amplification`` <= 1.5. Optuna's TPE sampler, seeded, proposes the settings; a space file says
which dotted paths it may change and in which ranges::

    [set]                                   # applied once, before the search (structure, not values)
    "clients.web.budget" = { type = "token_bucket" }

    [params."clients.web.retry.max_attempts"]
    int = [1, 5]
    [params."clients.web.retry.backoff.base"]
    float = [0.001, 0.5]
    log = true
    [params."clients.web.breaker.window_type"]
    choices = ["count", "time"]
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.experiments.grid import LEVEL, _t, apply_settings
from sim.scenario.loader import ScenarioError
from sim.scenario.spec import Scenario
from sim.sweep import RunFn, run_row

if TYPE_CHECKING:
    import optuna
    import pandas as pd

__all__ = [
    "AMPLIFICATION_MAX",
    "OBJECTIVE",
    "SUCCESS_MIN",
    "TUNE_SEEDS",
    "Param",
    "Space",
    "TuneResult",
    "load_space",
    "space_from_dict",
    "tune",
]

OBJECTIVE = "p99_after_fault"
SUCCESS_MIN = 0.99
AMPLIFICATION_MAX = 1.5
TUNE_SEEDS = (0, 1, 2, 3, 4)
KINDS = ("int", "float", "choices")


@dataclass(frozen=True)
class Param:
    """One dimension: ``int``/``float`` in ``[low, high]`` (``log``, ``step``) or one of ``choices``."""

    path: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.kind == "int":
            return trial.suggest_int(
                self.path, int(self.low), int(self.high), log=self.log, step=int(self.step or 1)
            )
        if self.kind == "float":
            return trial.suggest_float(self.path, self.low, self.high, log=self.log, step=self.step)
        index = trial.suggest_categorical(self.path, list(range(len(self.choices))))
        return self.choices[int(index)]


@dataclass(frozen=True)
class Space:
    """Fixed settings applied before the search (``fixed``) and the dimensions searched (``params``)."""

    params: tuple[Param, ...]
    fixed: dict[str, Any] = field(default_factory=dict)


def _param(path: str, spec: Mapping[str, Any], source: str) -> Param:
    def bad(key: str, value: Any, rule: str) -> ScenarioError:
        return ScenarioError(source, f"params.{path}.{key}" if key else f"params.{path}", value, rule)

    kinds = [k for k in KINDS if k in spec]
    if len(kinds) != 1:
        raise bad(
            "", dict(spec), "must have exactly one of int = [low, high], float = [low, high], choices = [...]"
        )
    unknown = sorted(set(spec) - {*KINDS, "log", "step"})
    if unknown:
        raise bad(unknown[0], spec[unknown[0]], "unknown key; known: int, float, choices, log, step")
    kind = kinds[0]
    value = spec[kind]
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise bad("log", log, "must be true or false")
    if kind == "choices":
        if not isinstance(value, list) or not value:
            raise bad(kind, value, "must be a non-empty list")
        return Param(path, kind, choices=tuple(value))
    number = int if kind == "int" else (int, float)
    ok = isinstance(value, list) and len(value) == 2 and all(isinstance(v, number) for v in value)
    if not ok or isinstance(value[0], bool) or isinstance(value[1], bool):
        raise bad(kind, value, f"must be [low, high], two {'integers' if kind == 'int' else 'numbers'}")
    low, high = float(value[0]), float(value[1])
    if not low < high:
        raise bad(kind, value, "low must be < high")
    if log and low <= 0:
        raise bad(kind, value, "low must be > 0 with log = true")
    step = spec.get("step")
    if step is not None and (not isinstance(step, int | float) or isinstance(step, bool) or step <= 0 or log):
        raise bad("step", step, "must be a number > 0 (and not with log = true)")
    return Param(path, kind, low, high, log, None if step is None else float(step))


def _dimensions(data: Mapping[str, Any], prefix: str, out: dict[str, Mapping[str, Any]]) -> None:
    for k, v in data.items():
        path = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and not any(x in v for x in KINDS):
            _dimensions(v, path, out)
        else:
            out[path] = v


def space_from_dict(data: Mapping[str, Any], source: str = "<space>") -> Space:
    """Validate a search space (``[set]`` and ``[params."dotted.path"]`` tables)."""
    unknown = sorted(set(data) - {"set", "params"})
    if unknown:
        raise ScenarioError(source, unknown[0], data[unknown[0]], "unknown table; known: set, params")
    fixed_raw = data.get("set", {})
    if not isinstance(fixed_raw, Mapping):
        raise ScenarioError(source, "set", fixed_raw, "must be a table of dotted.path = value")
    raw = data.get("params")
    if not isinstance(raw, Mapping) or not raw:
        raise ScenarioError(source, "params", raw, 'must be a table with at least one [params."dotted.path"]')
    dims: dict[str, Mapping[str, Any]] = {}
    _dimensions(raw, "", dims)
    params = []
    for path, spec in dims.items():
        if not isinstance(spec, Mapping):
            raise ScenarioError(source, f"params.{path}", spec, "must be a table (int, float or choices)")
        params.append(_param(path, spec, source))
    return Space(params=tuple(params), fixed=dict(fixed_raw))


def load_space(path: str | Path) -> Space:
    """Read a space TOML file; problems raise ``ScenarioError`` in the scenario-file form."""
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ScenarioError(source, "", None, "no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(source, "", None, f"cannot be read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(source, "", None, f"not valid TOML: {e}") from None
    return space_from_dict(data, source)


@dataclass
class TuneResult:
    """``best``: the best feasible settings (None if no trial met the constraints); ``evidence``: one row per
    finished trial (settings, objective and constraint means with intervals, feasibility); ``scenario``:
    the base with the fixed and best settings; ``runs``: one row per (trial, seed)."""

    best: dict[str, Any] | None
    best_value: float | None
    scenario: Scenario | None
    evidence: pd.DataFrame
    runs: pd.DataFrame
    trials: int
    seed: int
    study_name: str

    def scenario_toml(self) -> str:
        """The tuned scenario as TOML, headed by comments naming the objective and the search."""
        if self.scenario is None:
            raise ValueError("no trial met the constraints; there is no tuned scenario")
        head = [
            f"# Tuned by `rwb tune`: {self.trials} trials, TPE seed {self.seed}, study {self.study_name};",
            f"# minimise mean {OBJECTIVE} over seeds {TUNE_SEEDS[0]}-{TUNE_SEEDS[-1]} subject to",
            f"# success_ratio >= {SUCCESS_MIN} and amplification <= {AMPLIFICATION_MAX}; best mean "
            f"{OBJECTIVE} = {self.best_value:.6g} s.",
        ]
        head += [f"#   {k} = {json.dumps(v)}" for k, v in (self.best or {}).items()]
        return "\n".join(head) + "\n" + self.scenario.to_toml()


def _study_name(base: Scenario, space: Space, seeds: tuple[int, ...], seed: int) -> str:
    text = json.dumps(
        [base.to_dict(), space.fixed, [p.__dict__ for p in space.params], seeds, seed],
        sort_keys=True,
        default=repr,
    )
    return "tune-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def _constrain(trial: optuna.Trial, values: list[float]) -> None:
    """Record the constraint values (feasible when all <= 0) for the sampler and the evidence."""
    values = [v if math.isfinite(v) else 1.0 for v in values]
    trial.set_user_attr("constraints", values)
    for key, v in zip(("success_ratio", "amplification"), values, strict=True):
        trial.set_constraint(key, v)


def _evaluate(
    scenario: Scenario, seeds: tuple[int, ...], ex: Executor, run: RunFn
) -> tuple[dict[str, tuple[float, float]], list[dict[str, Any]]]:
    rows = list(ex.map(run, [scenario] * len(seeds), seeds))
    stats = {}
    for m in (OBJECTIVE, "success_ratio", "amplification"):
        xs = [float(r[m]) if r[m] is not None else math.inf for r in rows]
        stats[m] = _t(xs, LEVEL) if all(math.isfinite(x) for x in xs) else (math.inf, math.nan)
    return stats, rows


def tune(
    base: Scenario,
    space: Space,
    trials: int = 30,
    *,
    seed: int = 0,
    storage: str | Path | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    run: RunFn = run_row,
    seeds: Iterable[int] = TUNE_SEEDS,
    startup_trials: int = 10,
    on_trial: Callable[[int, dict[str, Any]], None] | None = None,
) -> TuneResult:
    """Search ``space`` from ``base`` with ``trials`` trials of a TPE sampler seeded with ``seed``.

    With ``storage`` (an SQLite file) the study is kept there and a second call with the same
    arguments resumes it: only the missing trials run. Each trial runs every seed (on ``executor``,
    a local process pool when None). The first ``startup_trials`` trials sample at random (seeded).
    """
    import optuna

    seeds = tuple(seeds)
    start = apply_settings(base, space.fixed, "<space [set]>")
    name = _study_name(base, space, seeds, seed)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials)
    url = None if storage is None else f"sqlite:///{Path(storage).resolve()}"
    study = optuna.create_study(
        study_name=name, storage=url, load_if_exists=True, direction="minimize", sampler=sampler
    )
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    own = executor is None
    ex = ProcessPoolExecutor(max_workers=min(len(seeds), 8)) if executor is None else executor

    def objective(trial: optuna.Trial) -> float:
        settings = {p.path: p.suggest(trial) for p in space.params}
        trial.set_user_attr("settings", settings)
        try:
            scenario = apply_settings(start, settings, f"<trial {trial.number}>")
        except ScenarioError as e:
            trial.set_user_attr("error", str(e))
            _constrain(trial, [1.0, 1.0])
            return math.inf
        stats, rows = _evaluate(scenario, seeds, ex, run)
        ok, amp = stats["success_ratio"][0], stats["amplification"][0]
        _constrain(trial, [SUCCESS_MIN - ok, amp - AMPLIFICATION_MAX])
        trial.set_user_attr("stats", {m: list(v) for m, v in stats.items()})
        trial.set_user_attr("runs", [{k: v for k, v in r.items() if k != "worker"} for r in rows])
        if on_trial is not None:
            on_trial(trial.number, settings)
        return stats[OBJECTIVE][0]

    try:
        study.optimize(objective, n_trials=max(0, trials - done), show_progress_bar=progress)
    finally:
        if own:
            ex.shutdown(cancel_futures=True)
    return _result(study, start, space, trials, seed, name)


def _result(
    study: optuna.Study, start: Scenario, space: Space, trials: int, seed: int, name: str
) -> TuneResult:
    import optuna
    import pandas as pd

    rows: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    best: tuple[float, int, dict[str, Any]] | None = None
    for t in study.trials:
        if t.state != optuna.trial.TrialState.COMPLETE:
            continue
        settings = t.user_attrs.get("settings", {})
        cons = t.user_attrs.get("constraints", [1.0, 1.0])
        feasible = all(c <= 0 for c in cons)
        row: dict[str, Any] = {"trial": t.number, **settings}
        for m, (mean, half) in t.user_attrs.get("stats", {}).items():
            row[m] = mean
            row[f"{m}_ci"] = half
        row["feasible"] = feasible
        row["error"] = t.user_attrs.get("error")
        rows.append(row)
        runs.extend({"trial": t.number, **r} for r in t.user_attrs.get("runs", []))
        value = t.value if t.value is not None else math.inf
        if feasible and math.isfinite(value) and (best is None or value < best[0]):
            best = (value, t.number, settings)
    evidence = pd.DataFrame(rows)
    if best is None:
        return TuneResult(None, None, None, evidence, pd.DataFrame(runs), trials, seed, name)
    tuned = apply_settings(start, best[2], "<best trial>").with_(name=f"{start.name}-tuned")
    return TuneResult(best[2], best[0], tuned, evidence, pd.DataFrame(runs), trials, seed, name)
