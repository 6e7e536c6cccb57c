"""How the report's time and memory grow with the graph: 10k- and 40k-node transformers, and VGG-16.

    python benchmarks/report_scale.py [--repeats 5] [--sizes 10000 40000] [--hidden 32]

Builds stacks of transformer blocks with onnx.helper + numpy (no PyTorch),
writes them and VGG-16 to a temporary folder, and for every file measures, each
in a fresh process: onnx.load (load_external_data=False, what the report
itself does), onnxcost.analyze, and analyze + JSON rendering (what
`onnxcost report -f json` does after its imports). Times and peak RSS are the
median of --repeats runs. It prints one table, the growth factors between the
smallest and the largest graph, and checks the report's parameter and MAC
totals against the counts worked out by hand from the architecture.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from _common import (
    CHILD_FLAG, MB, AttentionConstants, AttentionNames, GraphWriter, machine, mb, measure_here, median_of, min_of,
    run_child, self_attention, table,
)

NODES_PER_BLOCK = 33


@dataclass(frozen=True)
class Transformer:
    """An encoder stack's size: ``blocks`` blocks of width ``hidden`` with ``heads`` heads and an MLP of
    ``mlp_ratio``·hidden, over ``batch`` sequences of ``seq`` tokens."""

    blocks: int
    hidden: int = 32
    heads: int = 4
    seq: int = 16
    batch: int = 1
    mlp_ratio: int = 4

    @property
    def mlp(self) -> int:
        return self.hidden * self.mlp_ratio

    @property
    def nodes(self) -> int:
        return self.blocks * NODES_PER_BLOCK

    def params(self) -> int:
        """By hand: 2 LayerNorms (gamma, beta), q/k/v/o weights and biases, MLP up/down weights and biases."""
        h, m = self.hidden, self.mlp
        per_block = 2 * 2 * h + 4 * (h * h + h) + (h * m + m) + (m * h + h)
        return self.blocks * per_block

    def macs(self) -> int:
        """By hand: 4 projections B·S·h·h, QK^T and PV B·heads·S·S·d = B·S·S·h each, MLP 2·B·S·h·m."""
        b, s, h, m = self.batch, self.seq, self.hidden, self.mlp
        return self.blocks * (4 * b * s * h * h + 2 * b * s * s * h + 2 * b * s * h * m)


# What this encoder calls the parts of its attention (after 'block<i>.').
ENCODER_ATTENTION = AttentionNames(
    projection="{t}", split="{t}.split_heads", heads="{t}.heads", scores="qk", scaled="qk.scaled", softmax="attn",
    context="pv", transposed="pv.transpose", merge="merge_heads", residual="residual1",
)


def build_transformer(spec: Transformer, seed: int = 0) -> onnx.ModelProto:
    """A pre-norm transformer encoder stack, the way PyTorch exports one at opset 17 (33 nodes per block)."""
    rng = np.random.default_rng(seed)
    h, m, d = spec.hidden, spec.mlp, spec.hidden // spec.heads
    w = GraphWriter(lambda name, shape: numpy_helper.from_array(
        rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02), name))
    attention = AttentionConstants(
        split=w.const("split_heads", np.array([spec.batch, spec.seq, spec.heads, d], np.int64)),
        merge=w.const("merge_heads", np.array([spec.batch, spec.seq, h], np.int64)),
        scale=w.const("attn_scale", np.array(1 / math.sqrt(d), np.float32)),
    )
    sqrt2 = w.const("sqrt2", np.array(math.sqrt(2), np.float32))
    one = w.const("one", np.array(1, np.float32))
    half = w.const("half", np.array(0.5, np.float32))
    x = "x"
    for b in range(spec.blocks):
        p = f"block{b}."
        y = w.node("LayerNormalization", [x, w.weight(p + "ln1.gamma", (h,)), w.weight(p + "ln1.beta", (h,))],
                   p + "ln1", axis=-1)
        x = self_attention(w, x, y, p, ENCODER_ATTENTION, attention, h, bias=True)
        y = w.node("LayerNormalization", [x, w.weight(p + "ln2.gamma", (h,)), w.weight(p + "ln2.beta", (h,))],
                   p + "ln2", axis=-1)
        u = w.node("MatMul", [y, w.weight(p + "up.weight", (h, m))], p + "up")
        u = w.node("Add", [u, w.weight(p + "up.bias", (m,))], p + "up.add_bias")
        g = w.node("Div", [u, sqrt2], p + "gelu.div")        # gelu(u) = u · 0.5 · (1 + erf(u / √2))
        g = w.node("Erf", [g], p + "gelu.erf")
        g = w.node("Add", [g, one], p + "gelu.add")
        g = w.node("Mul", [u, g], p + "gelu.mul")
        g = w.node("Mul", [g, half], p + "gelu")
        z = w.node("MatMul", [g, w.weight(p + "down.weight", (m, h))], p + "down")
        z = w.node("Add", [z, w.weight(p + "down.bias", (h,))], p + "down.add_bias")
        x = w.node("Add", [x, z], p + "residual2")
    assert len(w.nodes) == spec.nodes
    shape = [spec.batch, spec.seq, h]
    return w.model(f"transformer_{spec.blocks}_blocks", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                   [helper.make_tensor_value_info(x, TensorProto.FLOAT, shape)])


# --- the children: building the models, one step on one file --------------------

def build_models(folder: str, hidden: int, skip_vgg: bool, sizes: list[int]) -> None:
    models = []
    for size in sizes:
        spec = Transformer(blocks=math.ceil(size / NODES_PER_BLOCK), hidden=hidden, heads=max(1, hidden // 8))
        path = Path(folder) / f"transformer_{spec.nodes}.onnx"
        onnx.save(build_transformer(spec), str(path))
        models.append({"label": f"transformer {spec.blocks} blocks", "path": str(path), "spec": asdict(spec)})
    if not skip_vgg:
        from onnxcost.samples import vgg16

        path = Path(folder) / "vgg16.onnx"
        onnx.save(vgg16(), str(path))
        models.append({"label": "VGG-16", "path": str(path), "spec": None})
    measure_here(lambda: {"models": models})


def child(step: str, path: str) -> None:
    import onnxcost
    from onnxcost.render import render

    def load() -> dict:
        model = onnx.load(path, load_external_data=False)
        return {"nodes": len(model.graph.node)}

    def analyze() -> dict:
        report = onnxcost.analyze(path)
        return {"nodes": report.totals.nodes, "params": report.totals.params, "macs": report.totals.macs}

    def analyze_json() -> dict:
        report = onnxcost.analyze(path)
        text = render(report, "json")
        return {"json_bytes": len(text)}

    measure_here({"load": load, "analyze": analyze, "json": analyze_json}[step])


# --- the parent -----------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh-process runs per measurement; the median is shown")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 40_000], help="minimum node counts")
    parser.add_argument("--hidden", type=int, default=32, help="hidden size (small, so the files stay small)")
    parser.add_argument("--no-vgg", action="store_true", help="skip VGG-16 (a 553 MB file)")
    args = parser.parse_args()
    script = str(Path(__file__).resolve())
    print(f"machine: {machine()}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="onnxcost-bench-") as folder:
        # Built in a child too, so this process stays small: a child started from a big parent
        # inherits nothing in VmHWM, but the parent's memory would still crowd the machine.
        build_args = ["build", folder, str(args.hidden), "1" if args.no_vgg else "0", *map(str, args.sizes)]
        built = run_child(script, build_args)["models"]
        models: list[tuple[str, Path, Transformer | None]] = [
            (entry["label"], Path(entry["path"]), Transformer(**entry["spec"]) if entry["spec"] else None)
            for entry in built
        ]
        print(f"built {len(models)} models in {time.perf_counter() - started:.1f} s; "
              f"{args.repeats} fresh-process runs per step, medians shown\n")

        steps = ("load", "analyze", "json")
        runs: dict[tuple[str, str], list[dict]] = {(label, step): [] for label, _, _ in models for step in steps}
        for _ in range(args.repeats):  # interleaved, so a noisy moment does not hit one model only
            for label, path, _ in models:
                for step in steps:
                    runs[label, step].append(run_child(script, [step, str(path)]))

        time_rows, memory_rows, figures, failures = [], [], {}, []
        for label, path, spec in models:
            load, analyze, js = (runs[label, s] for s in steps)
            nodes = analyze[0]["nodes"]
            f = {"nodes": nodes, "baseline": median_of(analyze, "baseline_rss")}
            for step, step_runs in zip(steps, (load, analyze, js)):
                f[step + "_s"] = median_of(step_runs, "seconds")
                f[step + "_min"] = min_of(step_runs, "seconds")
                f[step + "_cpu"] = median_of(step_runs, "cpu_seconds")
                f[step + "_peak"] = median_of(step_runs, "peak_rss")
            figures[label] = f
            time_rows.append([
                label, f"{nodes:,}", f"{path.stat().st_size / MB:,.1f}",
                f"{f['load_s']:.3f}", f"{f['analyze_s']:.3f}", f"{f['analyze_min']:.3f}", f"{f['analyze_cpu']:.3f}",
                f"{f['analyze_s'] / f['load_s']:.1f}x", f"{f['analyze_cpu'] / f['load_cpu']:.1f}x",
                f"{f['json_s']:.3f}", f"{f['analyze_cpu'] / nodes * 1e6:.0f}",
            ])
            memory_rows.append([
                label, mb(f["load_peak"]), mb(f["analyze_peak"]), mb(f["json_peak"]),
                mb(f["load_peak"] - f["baseline"]), mb(f["analyze_peak"] - f["baseline"]),
                f"{(f['analyze_peak'] - f['baseline']) / max(f['load_peak'] - f['baseline'], 1):.1f}x",
            ])
            if spec is not None:
                for key, expected in (("params", spec.params()), ("macs", spec.macs())):
                    got = analyze[0][key]
                    if got != expected:
                        failures.append(f"{label}: report says {key} = {got:,}, by hand {expected:,}")
            elif analyze[0]["macs"] != 15_470_264_320:
                failures.append(f"VGG-16: report says {analyze[0]['macs']:,} MACs, published 15,470,264,320")
        print("time (s; median of the runs unless marked; cpu = user+system of the step)")
        print(table(
            ["model", "nodes", "file MB", "load", "analyze", "analyze min", "analyze cpu", "analyze/load",
             "(cpu)", "analyze+json", "cpu µs/node"],
            time_rows,
        ))
        print("\npeak RSS (MB, median; each step in a fresh process; Δ = peak minus the process's RSS with "
              f"python + onnx + onnxcost imported, {mb(figures[models[0][0]]['baseline'])} MB)")
        print(table(["model", "load", "analyze", "analyze+json", "Δ load", "Δ analyze", "Δ analyze/Δ load"], memory_rows))
        transformers = [label for label, _, spec in models if spec is not None]
        if len(transformers) >= 2:
            small, large = figures[transformers[0]], figures[transformers[-1]]
            print(f"\ngrowth {transformers[-1]} / {transformers[0]}: nodes x{large['nodes'] / small['nodes']:.2f}")
            print(table(["", "median wall", "min wall", "median cpu"], [
                [name, *(f"x{large[step + kind] / small[step + kind]:.2f}" for kind in ("_s", "_min", "_cpu"))]
                for name, step in (("onnx.load (reference)", "load"), ("analyze", "analyze"), ("analyze+json", "json"))
            ]))
            print(f"  Δpeak analyze x{(large['analyze_peak'] - large['baseline']) / max(small['analyze_peak'] - small['baseline'], 1):.2f}, "
                  f"Δpeak onnx.load x{(large['load_peak'] - large['baseline']) / max(small['load_peak'] - small['baseline'], 1):.2f}")
        print("\nchecks: " + ("report params and MACs equal the hand counts (transformers) and the published VGG-16 MACs"
                              if not failures else "FAILED\n  " + "\n  ".join(failures)))
    print(f"total benchmark time {time.perf_counter() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == CHILD_FLAG and sys.argv[2] == "build":
        build_models(sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1", [int(n) for n in sys.argv[6:]])
    elif len(sys.argv) == 4 and sys.argv[1] == CHILD_FLAG:
        child(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
