"""Shared by the benchmark scripts: measuring one step in a fresh process, and printing.

Each measured step runs in a new Python process (the script re-runs itself with
``--child``), so the peak RSS of one step is not polluted by an earlier one
(ru_maxrss never goes down in a process) and caches are cold for the Python
objects. The child imports onnx and onnxcost *before* it starts the clock, so
the time is that of the step alone and "baseline" is the RSS of an interpreter
with both imported.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

MB = 1024 * 1024
CHILD_FLAG = "--child"


# --- in the child ---------------------------------------------------------------

def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far.

    On Linux this is VmHWM of /proc/self/status: the high-water mark of this
    process image only. ru_maxrss is not used there because Linux carries it
    over fork and exec, so a child of a big parent would report the parent's size.
    """
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def bytes_read_so_far() -> int | None:
    """Bytes this process has read through read()-like syscalls (Linux /proc/self/io 'rchar')."""
    try:
        with open("/proc/self/io") as handle:
            for line in handle:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def measure_here(step: Callable[[], dict | None]) -> None:
    """Run ``step`` once, print one JSON line: wall and CPU seconds, baseline and peak RSS, bytes read, and what it returned."""
    import gc

    gc.collect()
    baseline = peak_rss_bytes()
    read_before = bytes_read_so_far()
    start, cpu_start = time.perf_counter(), time.process_time()
    extra = step() or {}
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    read_after = bytes_read_so_far()
    result = {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,  # user + system CPU of the step: less disturbed by other load on the machine
        "baseline_rss": baseline,
        "peak_rss": peak_rss_bytes(),
        "bytes_read": None if read_before is None or read_after is None else read_after - read_before,
        **extra,
    }
    sys.stdout.write(json.dumps(result) + "\n")


# --- in the parent --------------------------------------------------------------

def run_child(script: str, args: Sequence[str], env: dict | None = None) -> dict:
    """Run ``script --child ARGS`` in a fresh interpreter and return the JSON it printed."""
    completed = subprocess.run(
        [sys.executable, script, CHILD_FLAG, *args], capture_output=True, text=True, env=env,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"child {' '.join(args)} failed ({completed.returncode}):\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


_CLI_WRAPPER = """
import atexit, os, sys
def _peak():
    with open("/proc/self/status") as handle:
        hwm = next((line.split()[1] for line in handle if line.startswith("VmHWM:")), "0")
    try:
        with open("/proc/self/io") as handle:
            rchar = next((line.split()[1] for line in handle if line.startswith("rchar:")), "-1")
    except OSError:
        rchar = "-1"
    with open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(hwm + " " + rchar)
atexit.register(_peak)
sys.argv = ["onnxcost", *sys.argv[1:]]
from onnxcost.cli import main
main()
"""


def run_cli(args: Sequence[str], prefix: Sequence[str] = ()) -> dict:
    """Wall time (interpreter start and imports included), exit code, peak RSS (VmHWM) and bytes
    read by read() syscalls (rchar, imports included) of the whole `onnxcost ARGS` process.
    ``prefix`` runs it under another command (setpriv, strace)."""
    import tempfile

    with tempfile.NamedTemporaryFile("r", suffix=".peak") as peak_file:
        env = {**os.environ, "BENCH_PEAK_FILE": peak_file.name}
        start = time.perf_counter()
        completed = subprocess.run([*prefix, sys.executable, "-c", _CLI_WRAPPER, *args],
                                   capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - start
        fields = open(peak_file.name).read().split() or ["0", "-1"]
    return {"seconds": seconds, "peak_rss": int(fields[0]) * 1024,
            "bytes_read": int(fields[1]) if int(fields[1]) >= 0 else None,
            "returncode": completed.returncode, "stderr": completed.stderr}


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def min_of(runs: list[dict], key: str) -> float:
    return min(run[key] for run in runs)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
        ram = f", {memory:.0f} GiB RAM"
    except (ValueError, OSError):
        ram = ""
    import onnx

    return (f"{cpu}, {os.cpu_count()} cores{ram}; Python {platform.python_version()}, onnx {onnx.__version__}, "
            f"{platform.system()} {platform.release()}; onnxcost {onnxcost_revision()}")


def onnxcost_revision() -> str:
    """The commit of the onnxcost being measured, and whether its package files differ from it."""
    import onnxcost

    folder = os.path.dirname(os.path.dirname(os.path.abspath(onnxcost.__file__)))
    try:
        head = subprocess.run(["git", "-C", folder, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "-C", folder, "status", "--porcelain", "--", "onnxcost", "passes", "samples"],
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return getattr(onnxcost, "__version__", "?")
    return head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def mb(value: float) -> str:
    return f"{value / MB:,.0f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    def line(cells):
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])
