"""Auditing many models: one row per model file, each costed in its own worker process, locally or on Ray.

    discover (files, folders, globs) -> resume log (rows already done) -> workers (pool or Ray) -> rows by path

A model that fails, hangs past the timeout, exhausts its memory limit or crashes its worker is one row saying
so; the run goes on. Rows are sorted by path, so the result does not depend on the order models finish in or
on where they ran. See docs/audit.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence

from ..config import Config, load_config
from ..loading import DEFAULT_MAX_FILE_BYTES
from .discover import discover
from .errors import AuditInputError
from .rows import SCHEMA, STATUSES, AuditResult, AuditRow, BudgetVerdict, ModelInput, ResumeLog, jsonl_line
from .worker import Settings, Worker, audit_file

DEFAULT_TIMEOUT = 300.0  # seconds per model
DEFAULT_MEMORY_LIMIT = 4 * 1024**3  # resident bytes per worker

__all__ = [
    "DEFAULT_MEMORY_LIMIT", "DEFAULT_TIMEOUT", "SCHEMA", "STATUSES", "AuditInputError", "AuditResult", "AuditRow",
    "BudgetVerdict", "ModelInput", "audit", "audit_file", "discover", "jsonl_line",
]


def audit(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    *,
    jobs: int | None = None,
    ray: bool | str | None = None,
    resume: str | os.PathLike | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
    inputs: Mapping[str, Sequence[int]] | None = None,
    dims: Mapping[str, int] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    budgets: Config | str | os.PathLike | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    worker: Worker = audit_file,
) -> AuditResult:
    """One row per model file under ``paths`` (files, folders searched for ``*.onnx``, globs), sorted by path.

    Each file is costed in a worker process killed after ``timeout`` seconds or above ``memory_limit`` bytes of
    resident memory (None: no memory limit). ``jobs`` workers run at a time on this machine (default: one per
    core this process may use). ``ray``: True runs each file as a Ray task instead (on the session already
    open, or the cluster ``ray.init()`` finds, or a new local one), a string is the address of the cluster;
    ``jobs`` does not apply there. ``resume``: a JSONL file; its rows are kept and their files not redone,
    every new row is appended (and flushed) as it finishes, so a killed run continues; at the end it is
    rewritten in path order. ``inputs``, ``dims``, ``max_file_bytes``: as for ``onnxcost.analyze``, for every
    file. ``budgets``: a config (``onnxcost.config.Config``, or the path of a pyproject.toml or onnxcost.toml)
    whose budgets apply to every row, each file taking those its globs give it. ``progress(what, done,
    total)`` is called as rows arrive. ``worker``: the function a worker process runs for one file (module
    level, so that the worker can import it); tests replace it.
    """
    files = discover([paths] if isinstance(paths, (str, os.PathLike)) else paths)
    settings = _settings(timeout, memory_limit, inputs, dims, budgets, max_file_bytes)
    jobs = _jobs(jobs)
    log = ResumeLog(resume) if resume is not None else None
    rows = {path: log.rows[path] for path in files if path in log.rows} if log is not None else {}
    resumed = len(rows)
    todo = [(path, os.path.abspath(path)) for path in files if path not in rows]

    def on_row(row: AuditRow) -> None:
        rows[row.path] = row
        if log is not None:
            log.append(row)
        if progress is not None:
            progress("auditing", len(rows), len(files))

    if progress is not None:
        progress("auditing", len(rows), len(files))
    try:
        if ray and todo:  # nothing to do needs no cluster
            from .on_ray import run_on_ray

            run_on_ray(todo, settings, ray if isinstance(ray, str) else None, on_row, worker)
        elif todo:
            from .pool import run_local

            run_local(todo, settings, jobs, on_row, worker)
    finally:
        if log is not None:
            log.close()
    if log is not None:
        log.finish()
    return AuditResult(rows=[rows[path] for path in files], resumed=resumed, checked=budgets is not None)


def _settings(timeout, memory_limit, inputs, dims, budgets, max_file_bytes) -> Settings:
    if not timeout > 0:
        raise AuditInputError(f"timeout must be a positive number of seconds, got {timeout}", parameter="timeout")
    if memory_limit is not None and memory_limit <= 0:
        raise AuditInputError(f"memory_limit must be a positive number of bytes, got {memory_limit}",
                              parameter="memory_limit")
    if budgets is not None and not isinstance(budgets, Config):
        budgets = load_config(budgets)
    return Settings(inputs=dict(inputs) if inputs else None, dims=dict(dims) if dims else None,
                    max_file_bytes=max_file_bytes, timeout=float(timeout), memory_limit=memory_limit, budgets=budgets)


def _jobs(jobs: int | None) -> int:
    if jobs is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if jobs < 1:
        raise AuditInputError(f"jobs must be at least 1, got {jobs}", parameter="jobs")
    return jobs
