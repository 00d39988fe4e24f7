"""``rwb`` never ends in a traceback: ``error:`` lines, exit 2; Ctrl-C prints ``interrupted``, exit 130."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main

ROOT = Path(__file__).resolve().parents[2]
STORM = ROOT / "scenarios" / "retry_storm.toml"


def rwb(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_errors(p: subprocess.CompletedProcess[str], *expected: str) -> None:
    lines = p.stderr.splitlines()
    assert "Traceback" not in p.stderr, p.stderr
    assert p.returncode == 2, p.stderr
    assert lines == [f"error: {e}" for e in expected]


def in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Run ``rwb`` in this process; assert exit code 2 and return its stderr lines."""
    assert main(argv) == 2
    return capsys.readouterr().err.splitlines()


def test_unreadable_scenario_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('name = "café"\n'.encode("latin-1"))
    assert_errors(rwb("run", str(latin1)), f"{latin1}: line 1: not UTF-8 text (byte 0xe9 at offset 11)")
    syntax = tmp_path / "syntax.toml"
    syntax.write_text("duration = = 1\n", encoding="utf-8")
    assert in_process(["run", str(syntax)], capsys) == [
        f"error: {syntax}: line 1, column 12: invalid TOML: invalid value"
    ]
    assert in_process(["run", str(tmp_path)], capsys) == [
        f"error: {tmp_path}: is a directory, not a scenario file"
    ]


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert_errors(
        rwb("run", str(STORM), "--seed", "-1"),
        "argument --seed: must be an integer >= 0, not '-1' (see rwb run --help)",
    )
    assert_errors(
        rwb("demo", "--duration", "0"),
        "argument --duration: must be a number of seconds > 0 and finite, not '0' (see rwb demo --help)",
    )
    rule = "must be a number of seconds > 0 and finite"
    for value in ("-5", "nan", "inf"):
        assert in_process(["demo", "--duration", value], capsys) == [
            f"error: argument --duration: {rule}, not '{value}' (see rwb demo --help)"
        ]
    assert in_process(["demo", "--duration", "soon"], capsys) == [
        "error: argument --duration: must be a number of seconds > 0, not 'soon' (see rwb demo --help)"
    ]
    assert in_process(["run", str(STORM), "--seed", "x"], capsys) == [
        "error: argument --seed: must be an integer >= 0, not 'x' (see rwb run --help)"
    ]


def test_a_demo_duration_the_scenarios_cannot_take(tmp_path: Path) -> None:
    assert_errors(
        rwb("demo", "--duration", "25", "--out", str(tmp_path)),
        "--duration=25.0: retry_storm.toml: faults[0].start=30.0: must be < the scenario's duration (25.0)",
    )


def test_output_paths_are_checked_before_the_run(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "s.om"
    a_file = tmp_path / "f"
    a_file.write_text("", encoding="utf-8")
    assert_errors(
        rwb("run", str(STORM), "--series", str(missing), "--bins", str(tmp_path)),
        f"--series={str(missing)!r}: directory {str(missing.parent)!r} does not exist",
        f"--bins={str(tmp_path)!r}: is a directory; give a file name",
    )
    assert_errors(rwb("demo", "--out", str(a_file)), f"--out={str(a_file)!r}: exists and is not a directory")


def test_no_simulation_starts_when_an_output_path_is_bad(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Started(Exception):
        pass

    started: list[object] = []

    def fake_run(*args: object, **kwargs: object) -> None:
        started.append(args)
        raise Started

    monkeypatch.setattr("sim.engine.run", fake_run)
    with contextlib.suppress(Started):
        main(["run", str(STORM), "--series", str(tmp_path / "no" / "s.om")])
    assert started == []
    assert capsys.readouterr().err.startswith("error: --series=")


def test_all_errors_of_a_file_one_line_each(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    text = STORM.read_text(encoding="utf-8")
    p.write_text(
        text.replace("instances = 50", "instances = 0").replace("max_attempts", "max_attempt"),
        encoding="utf-8",
    )
    assert_errors(
        rwb("run", str(p)),
        f"{p}: clients.web.retry.max_attempt=5: unknown field; did you mean `max_attempts`?",
        f"{p}: clients.web.instances=0: must be in 1..1000000",
    )


def test_ctrl_c_prints_interrupted_and_exits_130(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "run", str(STORM), "--progress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    first = proc.stderr.read(1)  # the progress bar: the simulation is running
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    err = (first + rest).decode("utf-8", "replace")
    assert "Traceback" not in err
    assert proc.returncode == 130
    assert err.splitlines()[-1].split("\r")[-1].strip() == "interrupted"


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"rwb {version('resilience-workbench')}"
    helps = {}
    for command in ("run", "demo"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        helps[command] = " ".join(capsys.readouterr().out.split())
    for text in helps.values():  # the same default seed, shown, and the exit codes
        assert "run seed (an integer >= 0) (default: 1)" in text
        assert "2 bad input" in text and "130 interrupted (Ctrl-C)" in text
    assert "directory for the HTML report (default: demo-out)" in helps["demo"]
