"""Issue 13's rewrite-memory figure: VGG-16 rewritten separable at rank 1, validated, written, whole-process.

    python benchmarks/rewrite_memory.py [--repeats 5] [--stages] [--baseline SRC]

The VGG-16 sample (``onnxcost.samples.vgg16``, 138,357,544 float32 parameters = 553 MB) is written to a
temporary folder by ``onnxcost sample`` (its own process, so this one stays small), then
``onnxcost rewrite FILE --separable --rank 1 -o out.onnx`` runs ``--repeats`` times, each in a fresh
process (``_common.run_cli``: wall time with interpreter start and imports, peak RSS as VmHWM read at exit).
Printed: each run, then the medians of wall time and peak RSS, the model file's size and peak / file.
Issue 13's target: <= 8 s and peak RSS <= 2x the model file.

``--baseline SRC`` runs another source tree's onnxcost too, each of its runs paired with one of this tree's
(so both see the same load), and checks that both wrote the same bytes. SRC is a plain copy of another commit,
e.g. ``git archive REV | tar -x -C SRC``; with onnxcost installed in editable mode, also
``ln -s ../passes SRC/onnxcost/passes`` (the editable install maps ``onnxcost.passes`` to this tree's ``passes``).

``--stages`` adds one more run that reads the process's peak RSS (VmHWM) whenever the CLI's progress callback
names a new step, and prints each step that raised it, with the peak reached by its end: where the copies of
the weights are (the last step, "validating: done", includes writing the model).

Exits non-zero when a rewrite fails, the written model is not a valid ONNX file or the two trees wrote different
models.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MB, machine, run_cli  # noqa: E402

# One run of the CLI in this interpreter with RSS sampled per progress step (``--stages``): the progress
# callback the CLI hands to the library is wrapped to record the step's name.
_STAGES = r"""
import sys, threading, time
from onnxcost.cli import output

def hwm():
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmHWM:"))

stage, peaks, order = ["start"], {}, ["start"]

def close_stage():  # the high-water mark reached by the end of a step is charged to that step when it rose there
    peak = hwm()
    if peak > max(peaks.values(), default=0):
        peaks[stage[0]] = peak

Original = output.ProgressBar
class Recording(Original):
    def __call__(self, what, done, total):
        if what[:70] != stage[0]:
            close_stage()
            stage[0] = what[:70]
            order.append(stage[0])
        return super().__call__(what, done, total)
sys.modules["onnxcost.cli.rewrite"].ProgressBar = Recording  # the package's attribute of that name is the command

sys.argv = ["onnxcost", *sys.argv[1:]]
from onnxcost.cli import main
try:
    main()
except SystemExit:
    pass
close_stage()
for name in order:
    if name in peaks:
        print(f"{peaks[name] / 2**20:9.0f} MiB  {name}", file=sys.stderr)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="whole-process runs (medians reported)")
    parser.add_argument("--stages", action="store_true", help="also one run with the peak RSS of each progress step")
    parser.add_argument("--baseline", metavar="SRC", type=Path,
                        help="another source tree of onnxcost (before): its runs interleaved with this one's")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="onnxcost-bench-") as scratch:
        model, out = Path(scratch) / "vgg16.onnx", Path(scratch) / "out.onnx"
        subprocess.run([sys.executable, "-m", "onnxcost", "sample", "vgg16", "-o", str(model)], check=True,
                       stderr=subprocess.DEVNULL)
        size = model.stat().st_size
        command = ["rewrite", str(model), "--separable", "--rank", "1", "-o", str(out)]
        print(machine())
        print(f"onnxcost rewrite vgg16.onnx --separable --rank 1 -o out.onnx (validated), file {size / MB:.0f} MiB")
        trees = {"before": args.baseline, "after": None} if args.baseline else {"this tree": None}
        runs: dict[str, list[dict]] = {label: [] for label in trees}
        written: dict[str, bytes] = {}
        for i in range(args.repeats):
            for label, tree in trees.items():
                out.unlink(missing_ok=True)
                with source_tree(tree, scratch):
                    run = run_cli(command)
                if run["returncode"] != 0 or not out.exists():
                    print(f"{label}, run {i + 1} failed ({run['returncode']}):\n{run['stderr'][-2000:]}",
                          file=sys.stderr)
                    return 1
                runs[label].append(run)
                written.setdefault(label, hashlib.sha256(out.read_bytes()).digest())
                print(f"{label:>9}, run {i + 1}: {run['seconds']:6.2f} s  peak RSS {run['peak_rss'] / MB:6.0f} MiB  "
                      f"peak/file {run['peak_rss'] / size:.2f}", flush=True)
        import onnx

        onnx.checker.check_model(str(out), full_check=True)
        for label, done in runs.items():
            seconds = statistics.median(r["seconds"] for r in done)
            peak = statistics.median(r["peak_rss"] for r in done)
            print(f"{label:>9}, median of {len(done)}: {seconds:.2f} s, peak RSS {peak / MB:.0f} MiB, "
                  f"peak/file {peak / size:.2f}  (target: <= 8 s, <= 2.00)")
        if len(set(written.values())) > 1:
            print("the written models differ", file=sys.stderr)
            return 1
        if args.baseline:
            print("the written models are the same bytes")
        if args.stages:
            out.unlink(missing_ok=True)
            print("peak RSS (VmHWM) by the end of each step that raised it:", flush=True)
            subprocess.run([sys.executable, "-c", _STAGES, *command], check=False, stdout=subprocess.DEVNULL)
    return 0


@contextlib.contextmanager
def source_tree(tree: Path | None, scratch: str):
    """Child processes run ``tree``'s onnxcost (None: the installed one): it first on their path, from a folder
    without one of its own (``python -c`` puts the working folder first)."""
    if tree is None:
        yield
        return
    saved, folder = os.environ.get("PYTHONPATH"), os.getcwd()
    os.environ["PYTHONPATH"] = str(tree.resolve())
    os.chdir(scratch)
    try:
        yield
    finally:
        os.chdir(folder)
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved

if __name__ == "__main__":
    sys.exit(main())
