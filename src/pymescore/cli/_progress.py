"""Progress of long commands (``train``): a plain line per stage always, on stderr; on a terminal, unless
``--quiet``, a live bar of the stage's folds or trials as well."""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pymescore.cli._output import console as default_console

if TYPE_CHECKING:
    from rich.console import Console


class StageProgress:
    """A ``pymescore.model`` progress callable: ``(stage)`` starts a stage, ``(stage, done, total)`` a step.

    Every stage is one plain line (``[  12.3 s] tuning XGBoost …``) whether or not the output is a terminal,
    so logs and CI show where the time goes; the live bar (folds, trials) only on a terminal and not ``quiet``.
    Use as a context manager."""

    def __init__(self, command: str, quiet: bool = False, console: Console | None = None) -> None:
        self.command = command
        self.console = console if console is not None else default_console
        self.live = not quiet and self.console.is_terminal
        self.started = time.perf_counter()
        self.stage: str | None = None
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> StageProgress:
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=self.console, transient=True)  # fmt: skip
            self._bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, stage: str, done: int | None = None, total: int | None = None, /) -> None:
        if stage != self.stage:
            self.stage = stage
            elapsed = time.perf_counter() - self.started
            self.console.print(f"[{elapsed:7.1f} s] {self.command}: {stage}", markup=False, highlight=False)
            if self._bar is not None:
                if self._task is not None:
                    self._bar.remove_task(self._task)
                self._task = self._bar.add_task(stage, total=total)
        if self._bar is not None and self._task is not None and done is not None:
            self._bar.update(self._task, completed=done, total=total, refresh=True)

    def done(self, message: str) -> None:
        """The last line: what was done, in how long."""
        elapsed = time.perf_counter() - self.started
        self.console.print(f"[{elapsed:7.1f} s] {self.command}: {message}", markup=False, highlight=False)
