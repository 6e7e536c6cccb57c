"""The local run: up to ``jobs`` models at a time, each in its own worker process (``Workers``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from .rows import AuditRow
from .processes import Workers
from .worker import Settings, Worker


def run_local(files: Sequence[tuple[str, str]], settings: Settings, jobs: int, on_row: Callable[[AuditRow], None],
              worker: Worker) -> None:
    """Audit ``files`` ((path, where) pairs) and hand each row to ``on_row`` in this thread as it finishes.

    A thread per job only waits on its worker process; the work is in the processes. If ``on_row`` raises or
    the run is interrupted, the workers still running are killed.
    """
    workers = Workers()
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(files))), thread_name_prefix="onnxcost-audit") as pool:
        futures = [pool.submit(workers.run, path, where, settings, worker) for path, where in files]
        try:
            for future in as_completed(futures):
                on_row(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            workers.stop()
            raise
