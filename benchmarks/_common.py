"""Shared by the benchmark scripts: measuring one step in a fresh process, printing, and writing
the transformer graphs they measure.

Each measured step runs in a new Python process (the script re-runs itself with
``--child``), so the peak RSS of one step is not polluted by an earlier one
(ru_maxrss never goes down in a process) and caches are cold for the Python
objects. The child imports onnx and onnxcost *before* it starts the clock, so
the time is that of the step alone and "baseline" is the RSS of an interpreter
with both imported.

The graphs are written with onnx.helper and numpy (no PyTorch): ``GraphWriter`` holds
the nodes and initializers, ``self_attention`` writes the multi-head attention both
the encoder stack (report_scale.py) and the LLaMA-shaped decoder
(report_external_7b.py) use, each with its own names.
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
from dataclasses import dataclass

import onnx
from onnx import helper, numpy_helper

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


_PYTHON_WRAPPER = """
import atexit, os, runpy, sys
def _peak():
    with open("/proc/self/status") as handle:
        hwm = next((line.split()[1] for line in handle if line.startswith("VmHWM:")), "0")
    with open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(hwm)
atexit.register(_peak)
how, what, *rest = sys.argv[1:]
if how == "-m":
    sys.argv = [what, *rest]
    runpy.run_module(what, run_name="__main__", alter_sys=True)
else:
    sys.argv = ["-c", *rest]
    exec(compile(what, "<benchmark>", "exec"), {"__name__": "__main__"})
"""


def run_python(args: Sequence[str], python: str = sys.executable) -> dict:
    """Wall time (interpreter start and imports included), exit code and peak RSS (VmHWM) of the whole process
    ``python -m MODULE ARGS...`` or ``python -c CODE ARGS...`` (``args`` starts with '-m' or '-c'), for any
    interpreter ``python`` (another virtual environment's, say). Raises when the command fails."""
    import tempfile

    with tempfile.NamedTemporaryFile("r", suffix=".peak") as peak_file:
        env = {**os.environ, "BENCH_PEAK_FILE": peak_file.name}
        start = time.perf_counter()
        completed = subprocess.run([python, "-c", _PYTHON_WRAPPER, *args], capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - start
        peak = int(open(peak_file.name).read().strip() or 0) * 1024
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    return {"seconds": seconds, "peak_rss": peak, "stdout": completed.stdout}


def median_of(runs: list[dict], key: str) -> float:
    """The median of ``key`` over the runs' JSON results."""
    return statistics.median(run[key] for run in runs)


def min_of(runs: list[dict], key: str) -> float:
    """The least ``key`` over the runs' JSON results."""
    return min(run[key] for run in runs)


def machine() -> str:
    """One line about what measured: CPU, cores, RAM, Python, onnx, OS and onnxcost's commit."""
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
    """Bytes as whole MiB with thousands separators ('1,113')."""
    return f"{value / MB:,.0f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain-text columns: the first left-aligned, the others right-aligned, a dashed rule under the headers."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    def line(cells):
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


# --- writing the graphs ---------------------------------------------------------

OPSET = 17  # what PyTorch exports transformers at: LayerNormalization is opset 17, GELU still its Erf form


class GraphWriter:
    """The nodes and initializers of a graph being written; every node is named after its one output.

    ``make_weight(name, shape)`` makes the TensorProto of a weight (random values, or a
    placement in an external-data file); small constants go through ``const``.
    """

    def __init__(self, make_weight: Callable[[str, tuple[int, ...]], onnx.TensorProto]):
        self.make_weight = make_weight
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def weight(self, name: str, shape: tuple[int, ...]) -> str:
        """A weight of ``shape`` made by ``make_weight``; returns its name."""
        self.initializers.append(self.make_weight(name, shape))
        return name

    def const(self, name: str, array) -> str:
        """A small constant (a shape, a scale, an epsilon) stored inline; returns its name."""
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], out: str, **attrs) -> str:
        """An ``op`` node named ``out`` with the one output ``out``; returns it."""
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def model(self, name: str, inputs: list[onnx.ValueInfoProto],
              outputs: list[onnx.ValueInfoProto]) -> onnx.ModelProto:
        """The model of everything written so far: opset ``OPSET``, IR version 8."""
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="onnxcost-benchmark")
        model.ir_version = 8
        return model


@dataclass(frozen=True)
class AttentionNames:
    """What one model calls the parts of its self-attention, after the layer's prefix; ``{t}`` is q, k, v or o.

    The projection of t is the MatMul ``projection``, its weight '<projection>.weight' and its bias,
    when there is one, '<projection>.bias' added by '<projection>.add_bias'.
    """

    projection: str
    split: str  # Reshape of q, k, v into [batch, seq, heads, head_dim]
    heads: str  # Transpose to [batch, heads, seq, head_dim] (k: [batch, heads, head_dim, seq])
    scores: str  # MatMul q·kᵀ
    scaled: str  # Mul by 1/√head_dim
    softmax: str
    context: str  # MatMul of the softmax by v
    transposed: str  # Transpose back to [batch, seq, heads, head_dim]
    merge: str  # Reshape to [batch, seq, hidden]
    residual: str  # Add of the layer's input and the attention


@dataclass(frozen=True)
class AttentionConstants:
    """The constants every attention layer of a graph reads, by name."""

    split: str  # int64 [batch, seq, heads, head_dim]
    merge: str  # int64 [batch, seq, hidden]
    scale: str  # 1/√head_dim, a scalar of the model's float type


def self_attention(w: GraphWriter, x: str, y: str, prefix: str, names: AttentionNames,
                   constants: AttentionConstants, hidden: int, bias: bool) -> str:
    """``x`` plus multi-head self-attention of ``y`` (x normalized), written as PyTorch exports it
    (21 nodes with biases, 17 without); returns the sum. Projections are [hidden, hidden] MatMuls:
    4·B·S·h² MACs, and q·kᵀ and the weighted sum of v B·S²·h each."""
    heads = {}
    for t, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):  # k comes out transposed
        z = _projection(w, y, prefix + names.projection.format(t=t), hidden, bias)
        z = w.node("Reshape", [z, constants.split], prefix + names.split.format(t=t))
        heads[t] = w.node("Transpose", [z], prefix + names.heads.format(t=t), perm=perm)
    a = w.node("MatMul", [heads["q"], heads["k"]], prefix + names.scores)
    a = w.node("Mul", [a, constants.scale], prefix + names.scaled)
    a = w.node("Softmax", [a], prefix + names.softmax, axis=-1)
    a = w.node("MatMul", [a, heads["v"]], prefix + names.context)
    a = w.node("Transpose", [a], prefix + names.transposed, perm=[0, 2, 1, 3])
    a = w.node("Reshape", [a, constants.merge], prefix + names.merge)
    a = _projection(w, a, prefix + names.projection.format(t="o"), hidden, bias)
    return w.node("Add", [x, a], prefix + names.residual)


def _projection(w: GraphWriter, x: str, name: str, hidden: int, bias: bool) -> str:
    z = w.node("MatMul", [x, w.weight(name + ".weight", (hidden, hidden))], name)
    return w.node("Add", [z, w.weight(name + ".bias", (hidden,))], name + ".add_bias") if bias else z
