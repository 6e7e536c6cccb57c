"""onnxcost against its peer and its floor, whole-process: the table of issue 13 in one command.

    python benchmarks/peers.py [--repeats 5] [--skip-7b] [--skip-transformers] [--onnx-tool-venv DIR]
                               [--onnxcost-venv DIR | --this-python] [--no-bytecode-cache]

Every figure is a whole process (interpreter start and imports included), timed from the parent with
``perf_counter``; peak memory is the process's own VmHWM. Each case is a pair run in the same loop, a then b,
``--repeats`` times, so a noisy moment lands on both; the table shows the medians and their ratio.

Every process may cache its compiled bytecode (in a scratch folder, ``PYTHONPYCACHEPREFIX``; the unmeasured first
run of each pair writes it), as an installed package has its ``.pyc`` files: an environment with
``PYTHONDONTWRITEBYTECODE`` set would otherwise compile onnxcost's ~70 modules from source on every run (~0.1 s) and
none of onnx-tool's, which pip compiled on install. ``--no-bytecode-cache`` measures the environment as it is.

Both tools run as their users install them: onnx-tool from PyPI and onnxcost from this checkout (``pip install
.``, not an editable install, whose import hook costs every process ~20 ms), each in a throwaway virtual
environment made by this script (``--onnx-tool-venv`` and ``--onnxcost-venv`` name folders to keep and reuse;
``--this-python`` measures the onnxcost of the interpreter running the script instead). The floors (``onnx.load``)
run in onnxcost's environment: the same onnx.

- MobileNet V2 and ResNet-50 (the samples written to files): ``onnxcost report FILE`` (the table) against
  onnx-tool's ``python -m onnx_tool -i FILE`` (its profile: shapes, MACs, parameters, memory, the per-node
  table). onnx-tool is installed by this script into its own throwaway virtual environment (``python -m venv``,
  ``pip install onnx-tool``), deleted afterwards unless ``--onnx-tool-venv`` names one to keep and reuse.
- ``onnxcost --help`` against ``import typer`` alone (the command-line framework every command starts with).
- The 47k-node transformer of report_scale.py (1,436 blocks, 47,388 nodes): ``onnxcost report -f json -o``
  against ``onnx.load`` of the same file (``import onnx`` included); and the same pair on the 12k-node one
  (364 blocks, 12,012 nodes): the growth from 12k to 47k against the growth in nodes.
- The LLaMA-7B-shaped decoder of report_external_7b.py (weights in a sparse external file, never read):
  ``onnxcost report -f json -o`` against ``onnx.load(load_external_data=False)``.

Exits non-zero only when a report's totals are not the hand counts of report_scale.py / report_external_7b.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import onnx

from _common import MB, machine, run_python, table
from report_external_7b import Llama, write_model
from report_scale import Transformer, build_transformer

LOAD = "import sys, onnx; onnx.load(sys.argv[1], load_external_data=False)"


ROOT = Path(__file__).resolve().parent.parent


def installed_python(keep: str | None, folder: Path, package: str, requirement: str) -> str:
    """The interpreter of a virtual environment holding ``package`` (``pip install requirement``, made and filled
    here when the folder has none)."""
    folder = Path(keep) if keep else folder
    python = folder / "bin" / "python"
    if not python.exists():
        print(f"installing {package} into {folder} ...", flush=True)
        venv.create(folder, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", requirement], check=True)
    version = subprocess.run([str(python), "-m", "pip", "show", package], capture_output=True, text=True).stdout
    print(package, next((line.split()[1] for line in version.splitlines() if line.startswith("Version:")), "?"))
    return str(python)


def pair(a: list[str], b: list[str] | None, repeats: int, python_a: str = sys.executable,
         python_b: str = sys.executable) -> tuple[list[dict], list[dict]]:
    """``repeats`` runs of a and b, interleaved (a, b, a, b, ...); b may be None (a alone)."""
    print("measuring", " ".join(Path(arg).name for arg in a[1:]), "..." if b is None else "and its peer ...", flush=True)
    runs_a, runs_b = [], []
    run_python(a, python_a)  # warm the page cache for the files and the packages: the first run is not measured
    if b is not None:
        run_python(b, python_b)
    for _ in range(repeats):
        runs_a.append(run_python(a, python_a))
        if b is not None:
            runs_b.append(run_python(b, python_b))
    return runs_a, runs_b


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def seconds(runs: list[dict]) -> str:
    return f"{median(runs, 'seconds'):.3f} s, {median(runs, 'peak_rss') / MB:,.0f} MiB" if runs else "–"


def ratio(a: list[dict], b: list[dict]) -> float:
    return median(a, "seconds") / median(b, "seconds")


def check_report(path: Path, params: int, macs: int) -> list[str]:
    totals = json.loads(path.read_text())["totals"]
    wrong = [f"{path.name}: {key} {totals[key]:,} != {want:,} by hand"
             for key, want in (("params", params), ("macs", macs)) if totals[key] != want]
    path.unlink()
    return wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each pair; the medians are shown")
    parser.add_argument("--skip-7b", action="store_true", help="leave out the 7B decoder")
    parser.add_argument("--skip-transformers", action="store_true", help="leave out the 12k- and 47k-node transformers")
    parser.add_argument("--onnx-tool-venv", help="keep onnx-tool's virtual environment here (reused when present)")
    parser.add_argument("--onnxcost-venv", help="keep onnxcost's virtual environment here (reused when present: "
                                                "install this checkout into it again after a change)")
    parser.add_argument("--this-python", action="store_true",
                        help="measure the onnxcost of the interpreter running this script (an editable install, say)")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="leave PYTHONDONTWRITEBYTECODE and PYTHONPYCACHEPREFIX as they are")
    args = parser.parse_args()
    print(machine())
    scratch = Path(tempfile.mkdtemp(prefix="onnxcost-peers-"))
    if not args.no_bytecode_cache:  # the children inherit this environment (run_python)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    print("bytecode:", "as the environment has it" if args.no_bytecode_cache else "cached, as an installed package")
    rows, problems = [], []
    try:
        peer = installed_python(args.onnx_tool_venv, scratch / "onnx-tool-venv", "onnx-tool", "onnx-tool")
        ours = sys.executable if args.this_python else installed_python(
            args.onnxcost_venv, scratch / "onnxcost-venv", "onnxcost", str(ROOT))
        print("onnxcost:", "this interpreter's" if args.this_python else "installed from this checkout (pip install .)")
        os.chdir(scratch)  # the children put their working folder first on sys.path: not this checkout's onnxcost/
        onnxcost = ["-m", "onnxcost"]
        for sample in ("mobilenet_v2", "resnet50"):
            path = scratch / f"{sample}.onnx"
            run_python([*onnxcost, "sample", sample, "-o", str(path)], ours)
            a, b = pair([*onnxcost, "report", str(path)], ["-m", "onnx_tool", "-i", str(path)], args.repeats, ours, peer)
            rows.append([f"{sample} sample, `report` (table)", seconds(a), "onnx-tool -i: " + seconds(b),
                         f"{ratio(a, b):.2f}x"])
        a, b = pair([*onnxcost, "--help"], ["-c", "import typer"], args.repeats, ours, ours)
        rows.append(["`onnxcost --help`", seconds(a), "import typer: " + seconds(b), f"{ratio(a, b):.2f}x"])

        growth = {}
        for blocks in () if args.skip_transformers else (364, 1436):
            spec = Transformer(blocks=blocks)
            path = scratch / f"transformer_{spec.nodes}.onnx"
            onnx.save(build_transformer(spec), str(path))
            out = scratch / "report.json"
            a, b = pair([*onnxcost, "report", str(path), "-f", "json", "-o", str(out)], ["-c", LOAD, str(path)],
                        args.repeats, ours, ours)
            problems += check_report(out, spec.params(), spec.macs())
            growth[spec.nodes] = (median(a, "seconds"), median(b, "seconds"))
            rows.append([f"{spec.nodes:,}-node transformer, `report -f json`", seconds(a),
                         "onnx.load: " + seconds(b), f"{ratio(a, b):.1f}x the parse"])
            path.unlink()
        if growth:
            (small, (a_small, b_small)), (large, (a_large, b_large)) = sorted(growth.items())
            rows.append([f"growth {small:,} → {large:,} nodes (x{large / small:.2f})", f"x{a_large / a_small:.2f}",
                         f"onnx.load: x{b_large / b_small:.2f}", "–"])

        if not args.skip_7b:
            spec = Llama()
            path, data = write_model(spec, scratch)
            out = scratch / "report.json"
            a, b = pair([*onnxcost, "report", str(path), "-f", "json", "-o", str(out)], ["-c", LOAD, str(path)],
                        args.repeats, ours, ours)
            problems += check_report(out, spec.params(), spec.macs())
            rows.append(["7B decoder, 13.5 GB external weights, `report -f json`", seconds(a),
                         "onnx.load: " + seconds(b), f"{ratio(a, b):.1f}x"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nwhole process, medians of {args.repeats} interleaved runs (time, peak RSS):\n")
    print(table(["case", "onnxcost", "peer / floor", "ratio"], rows))
    for problem in problems:
        print("WRONG:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
