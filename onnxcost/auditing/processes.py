"""Each model in a worker process of its own, with a time and a memory limit.

``Workers.run`` starts the worker (which runs ``worker.audit_file`` or a given function) and watches it: past
``timeout`` seconds, or past ``memory_limit`` bytes of resident memory, the worker is killed and the row says so;
a worker that dies says "crashed". The same ``Workers.run`` serves the local pool (one thread per job) and the
Ray tasks, so both apply the same limits.

Workers are forked from a multiprocessing fork server that has onnxcost imported and warmed up (``preload``;
the "spawn" context where there is no fork server), so a worker starts in milliseconds, never inherits the
caller's threads, and takes nothing from one model to the next.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import sys
import threading
import time
from multiprocessing.connection import wait

from .rows import CRASHED, OUT_OF_MEMORY, TIMEOUT, AuditRow
from .worker import Settings, Worker, audit_file

POLL_SECONDS = 0.02  # how often the time and the memory of a running worker are looked at
MAIN_PATH_VARIABLE = "ONNXCOST_AUDIT_MAIN_PATH"  # hands the fork server the caller's main module (see preload.py)


class Workers:
    """Runs each model in its own worker process under the limits of its settings; ``stop`` kills the workers
    running now (the caller was interrupted), and any started later."""

    def __init__(self):
        self._live: set = set()
        self._lock = threading.Lock()
        self._stopped = False

    def run(self, path: str, where: str, settings: Settings, worker: Worker = audit_file) -> AuditRow:
        """The row of ``path`` (opened at ``where``): the worker's own, or one saying why it gave none."""
        context = _context()
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(writer, worker, path, where, settings), daemon=True,
                                  name=f"onnxcost-audit {path}")
        with self._lock:
            if self._stopped:
                return AuditRow.failed(path, CRASHED, "the audit was interrupted")
            process.start()
            self._live.add(process)
        writer.close()  # the worker's end: closed here so that a dead worker reads as end of file
        try:
            return self._watch(process, reader, path, settings)
        finally:
            reader.close()
            if process.is_alive():
                process.kill()
            process.join()
            with self._lock:
                self._live.discard(process)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for process in self._live:
                process.kill()

    @staticmethod
    def _watch(process, reader, path: str, settings: Settings) -> AuditRow:
        deadline = time.monotonic() + settings.timeout
        while True:
            ready = wait([reader, process.sentinel], timeout=POLL_SECONDS)
            if reader in ready:
                try:
                    return reader.recv()
                except EOFError:  # the worker died without a row
                    process.join()
                    return AuditRow.failed(path, CRASHED, _death(process.exitcode))
            if ready:  # the worker ended: its row, if it sent one, or the end of the pipe is there to read
                if not reader.poll(1.0):  # the pipe is held open by something the worker started
                    process.join()
                    return AuditRow.failed(path, CRASHED, _death(process.exitcode))
                continue
            if time.monotonic() > deadline:
                process.kill()
                return AuditRow.failed(path, TIMEOUT, f"took longer than {settings.timeout:g} s: the worker was stopped")
            limit = settings.memory_limit
            if limit is not None and (resident_bytes(process.pid) or 0) > limit:
                process.kill()
                return AuditRow.failed(path, OUT_OF_MEMORY, f"used more than {_size(limit)} of memory: the worker was stopped")


def resident_bytes(pid: int) -> int | None:
    """The resident memory of process ``pid`` (Linux /proc); None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"the worker died ({signal.Signals(-exitcode).name})"
        except ValueError:
            return f"the worker died (signal {-exitcode})"
    return f"the worker exited with code {exitcode} without a result"


def _size(limit: int) -> str:
    from ..units import human_bytes

    return human_bytes(limit)


_CONTEXT_LOCK = threading.Lock()


def _context():
    """The fork server, started once with onnxcost loaded and warmed up (``preload``); spawn where there is none."""
    with _CONTEXT_LOCK:
        return _start_context()


@functools.cache
def _start_context():
    from multiprocessing import forkserver, spawn

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["onnxcost.auditing.preload", __name__])  # preload imports the analysis
    # The main module's path, exactly as every worker will compare it, for the server to import once (preload.py).
    main_path = spawn.get_preparation_data("onnxcost-audit").get("init_main_from_path")
    previous = os.environ.get(MAIN_PATH_VARIABLE)
    if main_path:
        os.environ[MAIN_PATH_VARIABLE] = main_path
    try:
        forkserver.ensure_running()
    finally:
        if previous is None:
            os.environ.pop(MAIN_PATH_VARIABLE, None)
        else:
            os.environ[MAIN_PATH_VARIABLE] = previous
    return context


# --- in the worker process -------------------------------------------------------------------------------

def _child(writer, worker: Worker, path: str, where: str, settings: Settings) -> None:
    _die_with_the_fork_server()
    try:
        row = worker(path, where, settings)
    except MemoryError:
        row = AuditRow.failed(path, OUT_OF_MEMORY, "ran out of memory (an allocation failed)")
    writer.send(row)
    writer.close()


def _die_with_the_fork_server() -> None:
    """Linux: have the kernel kill this worker when the fork server exits, as it does when the audit's process
    dies; so a killed audit leaves no worker behind, not even one stuck in native code on a model that never
    finishes. The server exits once every copy of its "alive" pipe is closed: the one multiprocessing hands each
    worker (for starting processes of its own, which a worker does not do) is closed here."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    alive = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(alive, int):
        os.close(alive)
        server._forkserver_alive_fd = None
    if os.getppid() == 1:  # the server was gone before the call
        os._exit(1)
