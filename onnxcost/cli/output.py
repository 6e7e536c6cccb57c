"""Where the commands write: results to stdout or a file, warnings and progress to stderr.

Everything leaves through here with what a file could smuggle in escaped (``onnxcost.render.sanitize``): results
keep their layout (newlines, tabs) and JSON still decodes to the exact strings; messages are one line."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Optional


from ..render.sanitize import terminal_safe, visible


class _LazyConsole:
    """The ``SafeConsole`` on stderr, made on first use: rich's console costs every command ~25 ms to import, and
    a piped command's messages need none of it (``message``)."""

    def __init__(self):
        self.made = None

    def get(self):
        """The console itself (made now if need be)."""
        if self.made is None:
            from ..render.safe_console import SafeConsole

            self.made = SafeConsole(stderr=True)
        return self.made

    def __getattr__(self, name: str):
        return getattr(self.get(), name)


stderr = _LazyConsole()


def message(line: str) -> None:
    """One line on stderr, escaped. Piped, written as it is (the bytes rich's ``print(line, soft_wrap=True)``
    writes for an unstyled line); on a terminal, or once the console exists (a live progress bar), through it."""
    if stderr.made is None and not sys.stderr.isatty():
        sys.stderr.write(terminal_safe(line) + "\n")
        sys.stderr.flush()
    else:
        stderr.print(line, soft_wrap=True)


def stderr_is_terminal() -> bool:
    """Whether stderr is a terminal (for spinners): a tty that rich agrees is one."""
    return sys.stderr.isatty() and stderr.is_terminal


def emit(text: str, output: Optional[Path] = None, keep: Iterable[str | os.PathLike] = ()) -> None:
    """``text`` to stdout (a closed pipe is not an error), or atomically to ``output``, which must not be one of
    the command's inputs ``keep`` (nor anything but a regular file)."""
    from ..files import write_atomic

    text = terminal_safe(text)
    if output is None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:  # the reader stopped early (`| head`): not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    else:
        write_atomic(output, text, keep=keep)
        wrote(output)


def wrote(path: str | os.PathLike) -> None:
    """The line saying where a result went."""
    message(f"wrote {visible(os.fspath(path))}")


def warn(text: str) -> None:
    """One line on stderr: 'warning: ...' (the message on one line, escaped)."""
    message(f"warning: {visible(text)}")


def warn_all(messages) -> None:
    for message in messages:
        warn(message)


def terminal_width() -> int | None:
    """The terminal's width when stdout is one; None (the renderers' default) when piped."""
    return os.get_terminal_size().columns if sys.stdout.isatty() else None


class ProgressBar:
    """A rich progress bar on stderr fed by the library's ``progress(what, done, total)`` calls; silent when piped."""

    def __init__(self):
        # imported here: rich.progress (and rich.table with it) costs every command ~20 ms, --help included
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=stderr.get(), transient=True, disable=not stderr.is_terminal,
        )
        self._task = None

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def __call__(self, what: str, done: int, total: int) -> None:
        what = visible(what)  # may name a layer of the model
        if self._task is None:
            self._task = self._progress.add_task(what, total=total, completed=done)
        else:
            self._progress.update(self._task, description=what, completed=done, total=total)
