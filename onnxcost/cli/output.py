"""Where the commands write: results to stdout or a file, warnings and progress to stderr."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

stderr = Console(stderr=True, highlight=False)


def emit(text: str, output: Optional[Path] = None) -> None:
    """``text`` to stdout (a closed pipe is not an error), or atomically to ``output``."""
    from ..files import write_atomic

    if output is None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:  # the reader stopped early (`| head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    else:
        write_atomic(output, text)
        stderr.print(f"wrote {output}", markup=False)


def warn(message: str) -> None:
    stderr.print(f"warning: {message}", markup=False, soft_wrap=True)


def warn_all(messages) -> None:
    for message in messages:
        warn(message)


def terminal_width() -> int | None:
    """The terminal's width when stdout is one; None (the renderers' default) when piped."""
    return os.get_terminal_size().columns if sys.stdout.isatty() else None


class ProgressBar:
    """A rich progress bar on stderr fed by the library's ``progress(what, done, total)`` calls; silent when piped."""

    def __init__(self):
        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=stderr, transient=True, disable=not stderr.is_terminal,
        )
        self._task = None

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def __call__(self, what: str, done: int, total: int) -> None:
        if self._task is None:
            self._task = self._progress.add_task(what, total=total, completed=done)
        else:
            self._progress.update(self._task, description=what, completed=done, total=total)
