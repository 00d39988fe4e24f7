"""A throwaway local Prometheus: OpenMetrics backfilled with promtool, served on 127.0.0.1.

``LocalPrometheus(openmetrics, workdir)`` is a context manager: on entry it
writes each OpenMetrics text (a ``str``; a ``Path`` is read as a file) into
a fresh TSDB with ``promtool tsdb create-blocks-from openmetrics``, starts the
real ``prometheus`` binary on a free loopback port and waits until it is
ready; on exit it stops the process and removes its directory, exceptions
included. Queries go through the HTTP API (standard library only).
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["INSTALL", "LocalPrometheus", "PrometheusError", "PrometheusMissing", "Sample"]

INSTALL = "install it with `make system-tools` (or `apt-get install prometheus`)"
CONFIG = "global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\nscrape_configs: []\n"
Sample = dict[str, Any]
"""One series of a query: ``{"metric": {label: value}, "values": [(t, v)]}`` (``"value"`` for instants)."""


class PrometheusMissing(RuntimeError):
    """``promtool`` or ``prometheus`` is not on PATH."""


class PrometheusError(RuntimeError):
    """Backfill, start-up or a query failed; the message says which and why."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PrometheusMissing(f"{name} not found on PATH: {INSTALL}")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _point(pair: list[Any]) -> tuple[float, float]:
    return float(pair[0]), float(pair[1])  # float() reads "NaN", "+Inf", "-Inf"


class LocalPrometheus:
    """A real Prometheus over backfilled OpenMetrics, for the length of a ``with`` block.

    ``retention`` must keep the oldest timestamp (simulated runs may be old);
    ``lookback`` is the staleness window of instant lookups; ``ready_timeout``
    bounds the wait for ``/-/ready``.
    """

    def __init__(
        self,
        openmetrics: list[str | Path],
        workdir: Path,
        *,
        retention: str = "100y",
        lookback: str = "5m",
        ready_timeout: float = 30.0,
    ) -> None:
        self.openmetrics = list(openmetrics)
        self.workdir = Path(workdir)
        self.retention = retention
        self.lookback = lookback
        self.ready_timeout = ready_timeout
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.directory: Path | None = None

    # -- lifecycle ------------------------------------------------------------
    def __enter__(self) -> LocalPrometheus:
        promtool, prometheus = _tool("promtool"), _tool("prometheus")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.directory = Path(tempfile.mkdtemp(prefix="prometheus-", dir=self.workdir))
        try:
            self._backfill(promtool)
            self._start(prometheus)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the process (terminate, then kill) and remove the data directory."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        directory, self.directory = self.directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def _backfill(self, promtool: str) -> None:
        assert self.directory is not None
        data = self.directory / "data"
        for i, source in enumerate(self.openmetrics):
            if isinstance(source, Path):
                path = source
            else:
                path = self.directory / f"input-{i}.om"
                path.write_text(source, encoding="utf-8")
            done = subprocess.run(
                [promtool, "tsdb", "create-blocks-from", "openmetrics", str(path), str(data)],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
                label = str(source) if isinstance(source, Path) else f"openmetrics[{i}]"
                raise PrometheusError(f"promtool could not backfill {label}:\n{tail}")

    def _start(self, prometheus: str, attempts: int = 3) -> None:
        assert self.directory is not None
        config = self.directory / "prometheus.yml"
        config.write_text(CONFIG, encoding="utf-8")
        log = self.directory / "prometheus.log"
        for _ in range(attempts):  # a free port can be taken before Prometheus binds it: try another
            port = _free_port()
            with log.open("wb") as out:
                self.process = subprocess.Popen(
                    [
                        prometheus,
                        f"--config.file={config}",
                        f"--storage.tsdb.path={self.directory / 'data'}",
                        f"--storage.tsdb.retention.time={self.retention}",
                        f"--query.lookback-delta={self.lookback}",
                        f"--web.listen-address=127.0.0.1:{port}",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            self.url = f"http://127.0.0.1:{port}"
            if self._wait_ready(log):
                return
            if "address already in use" not in _tail(log):
                break
        raise PrometheusError(f"prometheus did not become ready at {self.url}:\n{_tail(log)}")

    def _wait_ready(self, log: Path) -> bool:
        assert self.process is not None
        limit = time.monotonic() + self.ready_timeout
        while time.monotonic() < limit:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self._kill()
        raise PrometheusError(
            f"prometheus not ready at {self.url} after {self.ready_timeout:g} s:\n{_tail(log)}"
        )

    def _kill(self) -> None:
        """Stop the process only (the directory stays for its log)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    # -- queries --------------------------------------------------------------
    def _api(self, path: str, params: dict[str, str]) -> Any:
        if not self.url or self.process is None:
            raise PrometheusError("LocalPrometheus is not running: use it inside a `with` block")
        request = urllib.request.Request(
            f"{self.url}/api/v1/{path}",
            data=urllib.parse.urlencode(params).encode(),
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as e:
            try:
                body = json.loads(e.read())
            except ValueError:
                raise PrometheusError(f"{params['query']}: HTTP {e.code}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"{params['query']}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Sample]:
        """``expr`` evaluated every ``step`` seconds over [start, end] (Unix seconds)."""
        if not (math.isfinite(start) and math.isfinite(end) and end >= start and step > 0):
            raise ValueError(
                f"query_range: start={start}, end={end}, step={step}: need start <= end and step > 0"
            )
        params = {"query": expr, "start": repr(float(start)), "end": repr(float(end))}
        params["step"] = repr(float(step))
        data = self._api("query_range", params)
        return [{"metric": s["metric"], "values": [_point(p) for p in s["values"]]} for s in data["result"]]

    def query(self, expr: str, time: float) -> list[Sample]:
        """``expr`` at one instant: ``[{"metric": ..., "value": (t, v)}]`` (scalars as one series)."""
        data = self._api("query", {"query": expr, "time": repr(float(time))})
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": _point(data["result"])}]
        return [{"metric": s["metric"], "value": _point(s["value"])} for s in data["result"]]
