"""The run on Ray: each model is one Ray task that runs the local run's ``Workers.run`` (same worker process,
same time and memory limits), so a cluster gives the rows a local run gives.

Ray is optional (``pip install 'onnxcost[ray]'``) and imported only here, only when asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ..errors import first_line
from .errors import AuditInputError
from .rows import CRASHED, OUT_OF_MEMORY, AuditRow
from .processes import Workers
from .worker import Settings, Worker

WAIT_SECONDS = 0.1  # rows are collected in batches this often

_WORKERS = Workers()  # in a Ray worker process: the one that runs its tasks, one at a time


def _task(path: str, where: str, settings: Settings, worker: Worker) -> AuditRow:
    return _WORKERS.run(path, where, settings, worker)


def run_on_ray(files: Sequence[tuple[str, str]], settings: Settings, address: str | None,
               on_row: Callable[[AuditRow], None], worker: Worker) -> None:
    """Audit ``files`` ((path, where) pairs) as Ray tasks and hand each row to ``on_row`` as it arrives.

    The Ray session already open in this process is used; otherwise ``ray.init(address)`` connects to the
    cluster at ``address`` (None: $RAY_ADDRESS, the cluster last started on this machine, or a new local one)
    and the session is closed at the end. ``where`` must be readable on every node (a shared file system).
    """
    ray = _import_ray()
    started = _connect(ray, address)
    refs: list = []
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(_task)
        paths = {task.remote(path, where, settings, worker): path for path, where in files}
        refs = list(paths)
        while refs:
            done, refs = ray.wait(refs, num_returns=len(refs), timeout=WAIT_SECONDS)
            for ref in done:
                on_row(_row(ray, ref, paths[ref]))
    except BaseException:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


def _import_ray():
    try:
        import ray
    except ImportError:
        raise AuditInputError("Ray is not installed; install it with: pip install 'onnxcost[ray]'") from None
    return ray


def _connect(ray, address: str | None) -> bool:
    """Open a Ray session unless one is open; True when this call opened it."""
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, ValueError, RuntimeError, ... for a bad address
        where = f"the Ray cluster at {address}" if address else "Ray"
        raise AuditInputError(f"cannot start or reach {where}: {first_line(exc)}") from exc
    return True


def _row(ray, ref, path: str) -> AuditRow:
    """The task's row; a task Ray itself lost (its worker process died, Ray's memory monitor killed it) is a
    row saying so."""
    try:
        return ray.get(ref)
    except ray.exceptions.OutOfMemoryError as exc:
        return AuditRow.failed(path, OUT_OF_MEMORY, f"Ray's memory monitor stopped the task: {first_line(exc)}")
    except ray.exceptions.RayError as exc:
        return AuditRow.failed(path, CRASHED, f"the Ray task failed: {type(exc).__name__}: {first_line(exc)}")
