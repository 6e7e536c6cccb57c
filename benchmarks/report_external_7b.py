"""A 7-billion-parameter decoder whose weights are never read: report time, memory and proof.

    python benchmarks/report_external_7b.py [--repeats 5] [--seq 2048]

Builds a LLaMA-7B-shaped decoder (hidden 4096, 32 layers, 32 heads, SwiGLU MLP
of 11008, vocabulary 32000, RMSNorm written out the way PyTorch exports it at
opset 17, untied lm_head) in float16. Every weight lives in ONE external-data
file, placed by hand (location, offset, length; data_location=EXTERNAL, no
raw_data) in a sparse file made with truncate(): 13.5 GB apparent, no blocks on
disk, and no weight is ever materialized, here or in the report.

Prints: the parameter count and MACs the report gives against the counts worked
out by hand from the architecture; onnx.load and onnxcost.analyze times and
peak RSS (each in a fresh process, medians of --repeats); the whole
`onnxcost report -f json` command's wall time and peak RSS; the data file's
apparent size against its blocks on disk; and that the weights were not read:
peak RSS and bytes read far below the weights' size, no open() of the data
file, and the report still succeeding with the data file chmod 000 and with it
moved away altogether.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from _common import (
    CHILD_FLAG, MB, AttentionConstants, AttentionNames, GraphWriter, machine, mb, measure_here, median_of, run_child,
    run_cli, self_attention, table,
)

DATA_FILE = "llama7b.weights"
ALIGN = 4096  # each tensor starts on a page boundary, as onnx's own external-data writer can do
GB = 1e9


@dataclass(frozen=True)
class Llama:
    """A LLaMA decoder's size (LLaMA-7B's by default), over ``batch`` sequences of ``seq`` tokens."""

    hidden: int = 4096
    layers: int = 32
    heads: int = 32
    intermediate: int = 11008
    vocab: int = 32000
    seq: int = 2048
    batch: int = 1

    def params(self) -> int:
        """By hand: embedding, per layer 2 RMSNorm weights + q/k/v/o + gate/up/down, final norm, lm_head."""
        h, i, v = self.hidden, self.intermediate, self.vocab
        per_layer = 2 * h + 4 * h * h + 3 * h * i
        return v * h + self.layers * per_layer + h + h * v

    def macs(self) -> int:
        """By hand: per layer 4 projections S·h·h, QK^T and PV heads·S·S·d = S·S·h each, MLP 3·S·h·i; lm_head S·h·V."""
        b, s, h, i, v = self.batch, self.seq, self.hidden, self.intermediate, self.vocab
        return b * (self.layers * (4 * s * h * h + 2 * s * s * h + 3 * s * h * i) + s * h * v)


# How this decoder names the parts of its attention, after 'layers.<i>.' (Hugging Face's module names).
DECODER_ATTENTION = AttentionNames(
    projection="self_attn.{t}_proj", split="self_attn.{t}_split_heads", heads="self_attn.{t}_heads",
    scores="self_attn.qk", scaled="self_attn.qk_scaled", softmax="self_attn.softmax", context="self_attn.pv",
    transposed="self_attn.pv_transpose", merge="self_attn.merge_heads", residual="attn_residual",
)


def build_llama(spec: Llama, data_file: str = DATA_FILE) -> tuple[onnx.ModelProto, int]:
    """The model and the size its external-data file must have. No weight bytes are created."""
    h, d = spec.hidden, spec.hidden // spec.heads
    offset = 0

    def placed(name: str, shape: tuple[int, ...]) -> TensorProto:
        """A float16 weight that points at the next 4 KiB-aligned place in ``data_file``."""
        nonlocal offset
        tensor = TensorProto(name=name, data_type=TensorProto.FLOAT16, dims=list(shape))
        length = 2 * int(np.prod(shape))
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", data_file), ("offset", str(offset)), ("length", str(length))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        offset += -(-length // ALIGN) * ALIGN
        return tensor

    w = GraphWriter(placed)
    two = w.const("two", np.array(2, np.float16))  # small inline constants: shapes, eps, exponents
    eps = w.const("rms_eps", np.array(1e-6, np.float16))
    attention = AttentionConstants(
        scale=w.const("attn_scale", np.array(1 / np.sqrt(d), np.float16)),
        split=w.const("split_heads", np.array([spec.batch, spec.seq, spec.heads, d], np.int64)),
        merge=w.const("merge_heads", np.array([spec.batch, spec.seq, h], np.int64)),
    )

    def rms_norm(x: str, p: str) -> str:  # weight * x / sqrt(mean(x^2) + eps), as torch.onnx writes LlamaRMSNorm
        z = w.node("Pow", [x, two], p + ".pow")
        z = w.node("ReduceMean", [z], p + ".mean", axes=[-1], keepdims=1)
        z = w.node("Add", [z, eps], p + ".add_eps")
        z = w.node("Sqrt", [z], p + ".sqrt")
        z = w.node("Reciprocal", [z], p + ".rsqrt")
        z = w.node("Mul", [x, z], p + ".normalize")
        return w.node("Mul", [w.weight(p + ".weight", (h,)), z], p)

    x = w.node("Gather", [w.weight("embed_tokens.weight", (spec.vocab, h)), "input_ids"], "embed_tokens")
    for layer in range(spec.layers):
        p = f"layers.{layer}."
        x = self_attention(w, x, rms_norm(x, p + "input_layernorm"), p, DECODER_ATTENTION, attention, h, bias=False)
        y = rms_norm(x, p + "post_attention_layernorm")
        g = w.node("MatMul", [y, w.weight(p + "mlp.gate_proj.weight", (h, spec.intermediate))], p + "mlp.gate_proj")
        g = w.node("Mul", [g, w.node("Sigmoid", [g], p + "mlp.sigmoid")], p + "mlp.silu")
        u = w.node("MatMul", [y, w.weight(p + "mlp.up_proj.weight", (h, spec.intermediate))], p + "mlp.up_proj")
        g = w.node("Mul", [g, u], p + "mlp.swiglu")
        g = w.node("MatMul", [g, w.weight(p + "mlp.down_proj.weight", (spec.intermediate, h))], p + "mlp.down_proj")
        x = w.node("Add", [x, g], p + "mlp_residual")
    x = rms_norm(x, "norm")
    logits = w.node("MatMul", [x, w.weight("lm_head.weight", (h, spec.vocab))], "lm_head")
    model = w.model(
        "llama_7b_shaped", [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [spec.batch, spec.seq])],
        [helper.make_tensor_value_info(logits, TensorProto.FLOAT16, [spec.batch, spec.seq, spec.vocab])],
    )
    return model, offset


def write_model(spec: Llama, folder: Path) -> tuple[Path, Path]:
    model, data_bytes = build_llama(spec)
    path = folder / "llama7b.onnx"
    path.write_bytes(model.SerializeToString())  # not onnx.save: nothing must try to touch the weights
    data = folder / DATA_FILE
    with open(data, "wb") as handle:
        handle.truncate(data_bytes)  # sparse: the size is claimed, no block is written
    return path, data


# --- the children -----------------------------------------------------------------

def child(step: str, path: str) -> None:
    import onnxcost

    data_name = DATA_FILE
    opened: list[str] = []

    def watch(event: str, args: tuple) -> None:  # every open()/os.open()/mmap made by Python code
        if event in ("open", "os.open") and args and data_name in str(args[0]):
            opened.append(str(args[0]))
        elif event == "mmap.__new__":
            opened.append(f"mmap fd {args[0]}")

    sys.addaudithook(watch)

    def load() -> dict:
        model = onnx.load(path, load_external_data=False)
        return {"nodes": len(model.graph.node)}

    def analyze() -> dict:
        report = onnxcost.analyze(path)
        t = report.totals
        return {"nodes": t.nodes, "params": t.params, "param_bytes": t.param_bytes, "macs": t.macs,
                "warnings": report.warnings, "opened": opened}

    measure_here({"load": load, "analyze": analyze}[step])


# --- the parent -----------------------------------------------------------------

def size(count: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count:,.0f} B"


# Root reads a chmod-000 file anyway (CAP_DAC_OVERRIDE); without these two capabilities it cannot.
NO_DAC_CAPS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]


def prove_unread(path: Path, data: Path, folder: Path, totals: dict) -> list[str]:
    """The report with the data file unreadable, and every file syscall of a report naming it."""
    failures = []
    prefix: list[str] = []
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            print("  chmod 000: skipped (running as root, and no setpriv to drop CAP_DAC_OVERRIDE)")
            prefix = None
        else:
            prefix = NO_DAC_CAPS
    if prefix is not None:
        os.chmod(data, 0)
        try:
            control = subprocess.run([*prefix, sys.executable, "-c", f"open({str(data)!r}, 'rb').read(1)"],
                                     capture_output=True, text=True)
            locked = run_cli(["report", str(path), "-f", "json", "-o", str(folder / "locked.json")], prefix)
        finally:
            os.chmod(data, 0o644)
        unreadable = control.returncode != 0 and "PermissionError" in control.stderr
        same = locked["returncode"] == 0 and json.loads((folder / "locked.json").read_text())["totals"] == totals
        how = " as root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (setpriv)" if prefix else ""
        print(f"  data file chmod 000{how}: reading one byte of it fails: {unreadable}; "
              f"`onnxcost report` exit {locked['returncode']} in {locked['seconds']:.2f} s, same totals: {same}")
        if not unreadable:
            failures.append("could not make the data file unreadable; the chmod 000 run proves nothing")
        if not same:
            failures.append(f"report with the data file unreadable failed or differs: {locked['stderr'].strip()}")
    if shutil.which("strace"):
        log = folder / "strace.log"
        traced = run_cli(["report", str(path), "-f", "json", "-o", str(folder / "traced.json")],
                         ["strace", "-f", "-qq", "-e", "trace=%file,%desc", "-o", str(log)])
        calls: dict[str, int] = {}
        data_fds: set[str] = set()
        for line in log.read_text(errors="replace").splitlines():
            if DATA_FILE in line:
                call = line.split(None, 1)[1].split("(", 1)[0] if " " in line else line
                calls[call] = calls.get(call, 0) + 1
                if call in ("open", "openat", "openat2") and "= " in line and not line.rsplit("= ", 1)[1].startswith("-"):
                    data_fds.add(line.rsplit("= ", 1)[1].split()[0])
        listed = ", ".join(f"{name} x{count}" for name, count in sorted(calls.items())) or "none"
        print(f"  strace of a whole `onnxcost report` (exit {traced['returncode']}): syscalls naming {DATA_FILE}: "
              f"{listed}; opened: {'yes, fds ' + ', '.join(sorted(data_fds)) if data_fds else 'never'}")
        if data_fds:
            failures.append(f"the report opened {DATA_FILE}")
    else:
        print("  strace: not installed, skipped")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh-process runs per measurement; the median is shown")
    parser.add_argument("--seq", type=int, default=2048, help="sequence length of the input_ids (shapes only)")
    args = parser.parse_args()
    script = str(Path(__file__).resolve())
    spec = Llama(seq=args.seq)
    failures: list[str] = []
    print(f"machine: {machine()}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="onnxcost-bench-7b-") as tmp:
        folder = Path(tmp)
        path, data = write_model(spec, folder)
        stat = data.stat()
        weights_bytes = 2 * spec.params()
        print(f"built {path.name} ({path.stat().st_size / 1024:,.0f} KiB graph) + {data.name} in "
              f"{time.perf_counter() - started:.1f} s")
        print(f"external data file: apparent size {stat.st_size:,} bytes ({stat.st_size / GB:.2f} GB), "
              f"on disk {stat.st_blocks * 512:,} bytes ({stat.st_blocks} blocks of 512): sparse, never written")
        if stat.st_blocks * 512 > 1 * MB:
            failures.append(f"the data file takes {stat.st_blocks * 512:,} bytes on disk; expected a sparse file")

        loads, analyses = [], []
        for _ in range(args.repeats):
            loads.append(run_child(script, ["load", str(path)]))
            analyses.append(run_child(script, ["analyze", str(path)]))
        out_json = folder / "report.json"
        clis = [run_cli(["report", str(path), "-f", "json", "-o", str(out_json)]) for _ in range(args.repeats)]
        if any(c["returncode"] != 0 for c in clis):
            failures.append(f"onnxcost report failed: {clis[0]['stderr'].strip()}")

        first = analyses[0]
        totals = json.loads(out_json.read_text())["totals"] if out_json.exists() else {}
        print(f"\nLLaMA-7B-shaped decoder, float16, batch {spec.batch}, sequence {spec.seq}: {first['nodes']:,} nodes")
        print(table(["figure", "report", "by hand", "equal"], [
            ["parameters", f"{first['params']:,}", f"{spec.params():,}", str(first["params"] == spec.params())],
            ["parameters (CLI json)", f"{totals.get('params', 0):,}", f"{spec.params():,}",
             str(totals.get("params") == spec.params())],
            ["parameter bytes", f"{first['param_bytes']:,}", f"{weights_bytes:,}", str(first["param_bytes"] == weights_bytes)],
            ["MACs", f"{first['macs']:,}", f"{spec.macs():,}", str(first["macs"] == spec.macs())],
        ]))
        for key, got, expected in (("params", first["params"], spec.params()), ("CLI params", totals.get("params"), spec.params()),
                                   ("param bytes", first["param_bytes"], weights_bytes), ("MACs", first["macs"], spec.macs())):
            if got != expected:
                failures.append(f"report {key} {got} != by hand {expected}")
        if first["warnings"]:
            print("report warnings: " + "; ".join(first["warnings"]))

        load_s, analyze_s = median_of(loads, "seconds"), median_of(analyses, "seconds")
        baseline = median_of(analyses, "baseline_rss")
        analyze_peak, cli_peak = median_of(analyses, "peak_rss"), median_of(clis, "peak_rss")
        print()
        print(table(["step (fresh process each)", "wall s", "peak RSS MB", "Δ over imports MB", "bytes read"], [
            ["onnx.load(load_external_data=False)", f"{load_s:.3f}", mb(median_of(loads, "peak_rss")),
             mb(median_of(loads, "peak_rss") - median_of(loads, "baseline_rss")), size(median_of(loads, "bytes_read"))],
            ["onnxcost.analyze", f"{analyze_s:.3f}", mb(analyze_peak), mb(analyze_peak - baseline),
             size(median_of(analyses, "bytes_read"))],
            ["`onnxcost report -f json -o` (whole process)", f"{median_of(clis, 'seconds'):.3f}", mb(cli_peak), "",
             size(median_of(clis, "bytes_read")) + " (imports included)"],
        ]))
        print(f"analyze/onnx.load = {analyze_s / load_s:.1f}x; weights: {weights_bytes / GB:.2f} GB "
              f"({weights_bytes:,} bytes); analyze peak RSS = {analyze_peak / weights_bytes:.2%} of the weights, "
              f"whole CLI {cli_peak / weights_bytes:.2%}")

        # Proof that the weights are not read.
        print("\nweights not read:")
        opened = sorted({name for run in analyses for name in run["opened"]})
        print(f"  open()/mmap of {DATA_FILE} seen by a Python audit hook during analyze: {opened or 'none'}")
        if opened:
            failures.append(f"the report opened the data file: {opened}")
        most_read = max(run["bytes_read"] for run in analyses)
        print(f"  bytes read by analyze (rchar, /proc/self/io): {most_read:,} = model file {path.stat().st_size:,} "
              f"+ {most_read - path.stat().st_size:,}; the weights are {weights_bytes:,}")
        if most_read > weights_bytes / 100 or analyze_peak > weights_bytes / 10:
            failures.append("analyze read or held too much to have skipped the weights")
        failures.extend(prove_unread(path, data, folder, totals))
    print("\nchecks: " + ("all passed" if not failures else "FAILED\n  " + "\n  ".join(failures)))
    print(f"total benchmark time {time.perf_counter() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == CHILD_FLAG:
        child(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
