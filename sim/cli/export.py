"""``rwb export``: dashboards, alert rules and Alertmanager config from a scenario, backtested."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.cli.common import DEFAULT_SEED, EXIT_OK, Help, dir_problem, errors, load_with_sets, seed, size_check
from sim.cli.run import add_epoch_options, with_epoch

if TYPE_CHECKING:
    from sim.export import Export

__all__ = ["EXIT_BACKTEST", "EXIT_TOOLS", "add_parser", "command"]

EXIT_BACKTEST = 3
EXIT_TOOLS = 4

EPILOG = """\
exit codes:
  0    success: files written, the backtest passed (and the preview or push done)
  1    internal error (a bug; the error line names the exception)
  2    bad input: arguments, scenario file, output directory, export settings
  3    the backtest failed: promtool's report follows on stderr (files are kept)
  4    a system tool or service failed: promtool/prometheus missing, Grafana push refused
  130  interrupted (Ctrl-C)

The Grafana token is read from the GRAFANA_TOKEN environment variable and never printed."""


def add_parser(sub: Any, common: dict[str, Any]) -> None:
    """Register ``export`` on the subparsers ``sub``."""
    from sim.export import BACKTESTED

    p = sub.add_parser(
        "export",
        help="export dashboards and alerts for a scenario",
        description="Simulate the scenario and its healthy baseline (faults removed, same seed); write "
        "Grafana dashboards, Prometheus rules, Alertmanager config and a promtool backtest; run it.",
        epilog=EPILOG,
        formatter_class=Help,
    )
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--seed", type=seed, default=DEFAULT_SEED, help="run seed (an integer >= 0)")
    add_epoch_options(p)
    p.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="ALERT",
        choices=BACKTESTED,
        help="an alert (without prefix) that must fire during the incident within its bound; repeatable",
    )
    p.add_argument(
        "--scale",
        type=_scale,
        metavar="K",
        help="divide every window and `for` of the backtested rule copy by K (default: the rate window "
        "and 5m window span 5 scrape intervals)",
    )
    p.add_argument("--slo-target", type=_target, default=0.999, help="SLO availability target, in (0, 1)")
    p.add_argument("--preview", action="store_true", help="write preview.html from a local Prometheus")
    p.add_argument(
        "--grafana-url",
        metavar="URL",
        help="push the dashboards to this Grafana (also the alerts' dashboard_url base)",
    )
    p.add_argument("--grafana-ca", metavar="FILE", help="PEM bundle to trust for the Grafana push")
    p.add_argument("--grafana-folder", default="Resilience", metavar="NAME", help="Grafana folder")
    p.add_argument("--force", action="store_true", help="run even when the estimate says it is too large")
    _add_set(p)
    p.set_defaults(func=command)


def _add_set(p: argparse.ArgumentParser) -> None:
    try:
        from sim.cli.common import add_set_option
    except ImportError:  # pragma: no cover - older common module
        return
    add_set_option(p)


def _target(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1), not {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1), not {text!r}")
    return value


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 1, not {text!r}") from None
    if not (math.isfinite(value) and value >= 1):
        raise argparse.ArgumentTypeError(f"must be a number >= 1 and finite, not {text!r}")
    return value


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def command(args: argparse.Namespace) -> int:
    """Export; the exit code."""
    from sim.export import ExportError, PromtoolMissing, export, export_config
    from sim.export.pipeline import check_expect

    problems: list[str] = []
    scenario = load_with_sets(args.scenario, args.set, problems)
    found = dir_problem("--out", args.out)
    if found:
        problems.append(found)
    if args.run_label is not None and not (args.run_label.strip() and args.run_label.isprintable()):
        problems.append(f"--run-label={args.run_label!r}: must be a non-empty string of printable characters")
    if args.grafana_ca and not Path(args.grafana_ca).is_file():
        problems.append(f"--grafana-ca={args.grafana_ca!r}: no such file")
    if args.grafana_url and not os.environ.get("GRAFANA_TOKEN"):
        problems.append(
            "--grafana-url: set the GRAFANA_TOKEN environment variable to a Grafana service-account token"
        )
    config = None
    if scenario is not None:
        try:
            settings = {} if args.grafana_url is None else {"grafana_url": args.grafana_url}
            config = export_config(scenario, source=args.scenario, slo_target=args.slo_target, **settings)
            check_expect(scenario, args.expect)
        except (ExportError, ValueError) as e:
            problems.append(str(e))
    if problems or scenario is None or config is None:
        return errors(problems)
    scenario = with_epoch(scenario, args.epoch)
    refused = size_check(args.scenario, [scenario], args.force)
    if refused:
        return errors(refused)
    out = Path(args.out)
    started = time.perf_counter()
    try:
        result = export(scenario, out, seed=args.seed, run_label=args.run_label, expect=args.expect,
                        config=config, scale=args.scale, progress=_say)  # fmt: skip
    except PromtoolMissing as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_TOOLS
    except ExportError as e:
        return errors([str(e)])
    except OSError as e:
        return errors([f"cannot write {e.filename!r}: {e.strerror or e}"])
    for path in result.files:
        print(path)
    if not result.passed:
        print(f"error: backtest failed ({out / 'alerts' / 'tests.yml'}):", file=sys.stderr)
        print(result.promtool_output, file=sys.stderr)
        return EXIT_BACKTEST
    _say(f"backtest passed (promtool test rules, rule windows / K={result.scale:g})")
    code = EXIT_OK
    if args.preview:
        code = _preview(result, out)
    if code == EXIT_OK and args.grafana_url:
        code = _push(result, args)
    _say(f"export took {time.perf_counter() - started:.1f} s")
    return code


def _preview(result: Export, out: Path) -> int:
    from sim.export.preview import preview

    try:
        path = preview(result, out / "preview.html", progress=_say)
    except Exception as e:  # the tool is missing or failed: a clear line, not a traceback
        from dashboards.prometheus import PrometheusError, PrometheusMissing

        if isinstance(e, PrometheusMissing | PrometheusError):
            print(f"error: preview: {e}", file=sys.stderr)
            return EXIT_TOOLS
        raise
    print(path)
    return EXIT_OK


def _push(result: Export, args: argparse.Namespace) -> int:
    from dashboards.push import PushError, push

    token = os.environ.get("GRAFANA_TOKEN", "")
    ca = Path(args.grafana_ca) if args.grafana_ca else None
    _say(
        f"pushing {len(result.dashboards)} dashboards to {args.grafana_url} (folder {args.grafana_folder!r})"
    )
    try:
        urls = push(result.dashboards, args.grafana_url, token, args.grafana_folder, ca=ca)
    except PushError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_TOOLS
    for url in urls:
        print(url)
    return EXIT_OK
