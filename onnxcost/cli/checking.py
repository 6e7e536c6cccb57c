"""What ``rewrite`` and ``validate`` share on the command line: validation options, inputs, a progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from . import stderr
from ..errors import InputSpecError

INPUTS_FILE_OPTION = typer.Option("--inputs", metavar="DATA.npz",
                                  help="Validation inputs: an .npz with one array per model input (default: seeded random inputs).")
SEED_OPTION = typer.Option("--seed", help="Seed of the random validation inputs.")
MAX_REL_ERROR_OPTION = typer.Option("--max-rel-error", metavar="E",
                                    help="Fail when an output's relative L2 error ||b - a|| / ||a|| exceeds E.")
ATOL_OPTION = typer.Option("--atol", metavar="A", help="Fail when some |b - a| > A + RTOL·|a| (elementwise).")
RTOL_OPTION = typer.Option("--rtol", metavar="R", help="Relative part of the elementwise bound (see --atol).")


def make_bounds(max_rel_error: Optional[float], atol: Optional[float], rtol: Optional[float]):
    from ..validation import Bounds

    for flag, value in (("--max-rel-error", max_rel_error), ("--atol", atol), ("--rtol", rtol)):
        if value is not None and not value >= 0:
            raise InputSpecError(f"{flag} must be >= 0, got {value}")
    return Bounds(max_rel_error=max_rel_error, atol=atol, rtol=rtol)


def validation_feeds(model, inputs_file: Optional[Path], seed: int, shapes, dims):
    """(feeds, description, warnings) from --inputs or seeded random inputs."""
    from ..validation import resolve_feeds

    return resolve_feeds(model, inputs_file, seed, shapes, dims)


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


def warn(message: str) -> None:
    stderr.print(f"warning: {message}", markup=False, soft_wrap=True)
