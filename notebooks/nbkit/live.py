"""Widgets that re-run a computation when a control changes, with a visible busy state."""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

import ipywidgets as widgets

__all__ = ["TEST_ENV", "Job", "Live", "test_mode"]

TEST_ENV = "RWB_NOTEBOOK_TEST"

R = TypeVar("R")


def test_mode() -> bool:
    """True when ``RWB_NOTEBOOK_TEST`` is set (not empty, not ``0``): short horizons, synchronous re-runs."""
    return os.environ.get(TEST_ENV, "") not in ("", "0")


class Live(Generic[R]):
    """Runs ``compute(values)`` whenever one of ``controls`` changes and hands the result to ``render``.

    Outside test mode the computation runs on a worker thread while the kernel
    stays responsive; the ``status`` line says *simulating…* until the new
    result is drawn. Changes made meanwhile are coalesced into one more run
    with the latest values. In test mode (``RWB_NOTEBOOK_TEST=1``) every
    change re-runs synchronously, so the next line of a cell sees the new
    figure. A computation that raises (e.g. an invalid setting) leaves the
    figure as it was and shows the error in the status line.
    """

    def __init__(
        self,
        controls: Mapping[str, widgets.ValueWidget],
        compute: Callable[[dict[str, Any]], R],
        render: Callable[[R], None],
        *,
        synchronous: bool | None = None,
    ) -> None:
        self.controls = dict(controls)
        self.compute = compute
        self.render = render
        self.synchronous = test_mode() if synchronous is None else synchronous
        self.status = widgets.HTML(value="")
        self.last_seconds: float | None = None
        self.last_error: str | None = None
        self.runs = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="resimulate")
        self._task: asyncio.Task[None] | None = None
        self._pending = False
        for control in self.controls.values():
            control.observe(self._changed, names="value")

    def values(self) -> dict[str, Any]:
        """The controls' current values by name."""
        return {name: c.value for name, c in self.controls.items()}

    @property
    def busy(self) -> bool:
        """True while a background run is in progress."""
        return self._task is not None and not self._task.done()

    def box(self, *extra: widgets.Widget, columns: int = 4) -> widgets.VBox:
        """The controls in rows of ``columns``, the status line, then ``extra`` widgets.

        Display a plotly ``FigureWidget`` on its own (``display(fig)``), not in ``extra``: only
        then does it send its current traces with it (what Voilà shows).
        """
        items = list(self.controls.values())
        rows = [widgets.HBox(items[i : i + columns]) for i in range(0, len(items), columns)]
        return widgets.VBox([*rows, self.status, *extra])

    def run_now(self) -> None:
        """Run synchronously with the current values (e.g. the first draw)."""
        self._run_sync()

    @contextlib.contextmanager
    def sync(self) -> Iterator[None]:
        """Within the block every change re-runs synchronously (used by the notebooks' checks)."""
        before, self.synchronous = self.synchronous, True
        try:
            yield
        finally:
            self.synchronous = before

    def refresh(self) -> None:
        """Run now with the current values (synchronously in test mode or without an event loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self.synchronous or loop is None:
            self._run_sync()
            return
        if self.busy:
            self._pending = True
            return
        self._task = loop.create_task(self._run_background())

    def _changed(self, _change: Any) -> None:
        self.refresh()

    def _busy(self, text: str) -> None:
        self.status.value = f'<span style="color:#b35900">&#9203; {html.escape(text)}</span>'

    def _done(self, seconds: float) -> None:
        self.last_seconds = seconds
        self.last_error = None
        self.runs += 1
        self.status.value = f'<span style="color:#2d7d2d">&#10003; re-simulated in {seconds:.2f} s</span>'

    def _failed(self, error: BaseException) -> None:
        self.last_error = f"{type(error).__name__}: {error}"
        self.status.value = f'<span style="color:#c0392b">&#10007; {html.escape(self.last_error)}</span>'

    def _timed(self, values: dict[str, Any]) -> tuple[R, float]:
        start = time.perf_counter()
        result = self.compute(values)
        return result, time.perf_counter() - start

    def _run_sync(self) -> None:
        self._busy("simulating…")
        try:
            result, seconds = self._timed(self.values())
            self.render(result)
        except Exception as error:  # shown to the user, the figure stays as it was
            self._failed(error)
            if not isinstance(error, ValueError):  # a bug, not a rejected setting
                raise
            return
        self._done(seconds)

    async def _run_background(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._pending = False
            self._busy("simulating…")
            try:
                result, seconds = await loop.run_in_executor(self._pool, self._timed, self.values())
                if not self._pending:
                    self.render(result)
            except Exception as error:  # shown to the user, the figure stays as it was
                self._failed(error)
            else:
                if not self._pending:
                    self._done(seconds)
            if not self._pending:
                return


class Job(Generic[R]):
    """A button that runs ``work(progress)`` — a long computation reporting ``progress(done, total)``
    — in the background, with a progress bar, and hands the result to ``done``.

    The button is disabled while the job runs. In test mode the job runs synchronously.
    """

    def __init__(
        self,
        label: str,
        work: Callable[[Callable[[int, int], None]], R],
        done: Callable[[R], None],
        *,
        synchronous: bool | None = None,
    ) -> None:
        self.work = work
        self.done = done
        self.synchronous = test_mode() if synchronous is None else synchronous
        self.button = widgets.Button(description=label, icon="refresh", layout={"width": "auto"})
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="runs")
        self.status = widgets.HTML(value="")
        self.last_seconds: float | None = None
        self._task: asyncio.Task[None] | None = None
        self.button.on_click(lambda _button: self.start())

    @contextlib.contextmanager
    def sync(self) -> Iterator[None]:
        """Within the block the job runs synchronously (used by the notebooks' checks)."""
        before, self.synchronous = self.synchronous, True
        try:
            yield
        finally:
            self.synchronous = before

    def box(self) -> widgets.HBox:
        """The button, the progress bar and the status text in a row."""
        return widgets.HBox([self.button, self.progress, self.status])

    def _report(self, done: int, total: int) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = done
        self.status.value = f"&#9203; {done} / {total} runs"

    def start(self, work: Callable[[Callable[[int, int], None]], R] | None = None) -> None:
        """Run ``work`` (default: the job's own) now; synchronously in test mode or without an event loop."""
        job = work or self.work
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self.button.disabled = True
        if self.synchronous or loop is None:
            try:
                start = time.perf_counter()
                result = job(self._report)
                self.last_seconds = time.perf_counter() - start
                self.done(result)
                self.status.value = f"&#10003; done in {self.last_seconds:.1f} s"
            finally:
                self.button.disabled = False
            return
        running = loop

        def report(done: int, total: int) -> None:  # called on a worker thread
            running.call_soon_threadsafe(self._report, done, total)

        async def background() -> None:
            start = time.perf_counter()
            try:
                result = await running.run_in_executor(None, job, report)
                self.last_seconds = time.perf_counter() - start
                self.done(result)
                self.status.value = f"&#10003; done in {self.last_seconds:.1f} s"
            except Exception as error:  # shown to the user
                self.status.value = f'<span style="color:#c0392b">&#10007; {html.escape(str(error))}</span>'
            finally:
                self.button.disabled = False

        self._task = loop.create_task(background())
