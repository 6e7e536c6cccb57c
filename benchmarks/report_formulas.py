"""The report with free dimensions (formulas) next to the same report with every dimension given.

    python benchmarks/report_formulas.py [--repeats 3] [--nodes 40000] [--skip-7b]

Builds the 40k-node transformer of report_scale.py and the LLaMA-7B-shaped decoder of report_external_7b.py
(weights in a sparse external file, never read) with free ``batch`` and ``seq``: input and output declared
[batch, seq, ...] and the head split/merge Reshapes written with 0 (copy) as exporters write them. Each file is
reported in a fresh process twice: with ``--dim batch=1 --dim seq=128`` (concrete, no symbolic work) and with the
dimensions free (formulas). Prints wall time and peak RSS of each and the symbolic/concrete ratios (target: within
2x), and checks the MACs formula against the hand count of the architecture.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, table  # noqa: E402

BATCH, SEQ = "batch", "seq"


def make_free(model: onnx.ModelProto, split: str, merge: str, heads_dims: tuple[int, int], hidden: int) -> None:
    """Free batch and seq: inputs and outputs declared with them, the Reshape targets copying them (0)."""
    for value in (*model.graph.input, *model.graph.output):
        dims = value.type.tensor_type.shape.dim
        dims[0].dim_param, dims[1].dim_param = BATCH, SEQ
    for tensor in model.graph.initializer:
        if tensor.name == split:
            tensor.CopyFrom(numpy_helper.from_array(np.array([0, 0, *heads_dims], np.int64), split))
        elif tensor.name == merge:
            tensor.CopyFrom(numpy_helper.from_array(np.array([0, 0, hidden], np.int64), merge))


def build(folder: Path, nodes: int, skip_7b: bool) -> list[dict]:
    import report_scale

    built = []
    spec = report_scale.Transformer(blocks=math.ceil(nodes / report_scale.NODES_PER_BLOCK), hidden=32, heads=4)
    model = report_scale.build_transformer(spec)
    make_free(model, "split_heads", "merge_heads", (spec.heads, spec.hidden // spec.heads), spec.hidden)
    path = folder / "transformer.onnx"
    onnx.save(model, path)
    # per token: 4·h² attention projections + 2·h·m MLP; attention 2·h per token pair
    built.append({"label": f"transformer, {spec.nodes:,} nodes", "path": str(path),
                  "linear": 4 * spec.hidden**2 + 2 * spec.hidden * spec.mlp, "quadratic": 2 * spec.hidden,
                  "blocks": spec.blocks, "extra_linear": 0})
    if not skip_7b:
        import report_external_7b as llama

        spec7 = llama.Llama()
        path, _ = llama.write_model(spec7, folder)
        model = onnx.load(str(path), load_external_data=False)
        h, i = spec7.hidden, spec7.intermediate
        make_free(model, "split_heads", "merge_heads", (spec7.heads, h // spec7.heads), h)
        path.write_bytes(model.SerializeToString())  # not onnx.save: nothing must touch the weights
        # per layer 4 projections h² and the MLP 3·h·i per token, lm_head h·V; QK^T and PV h per token pair each
        built.append({"label": "LLaMA-7B-shaped decoder", "path": str(path), "blocks": spec7.layers,
                      "linear": 4 * h * h + 3 * h * i, "quadratic": 2 * h, "extra_linear": h * spec7.vocab})
    return built


def run(args: list[str]) -> tuple[float, float, dict]:
    """Wall seconds, peak RSS (MiB) and the JSON report of one `onnxcost report` process."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "onnxcost", "report", *args,
                           "-f", "json"], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    rss = int(done.stderr.strip().splitlines()[-1]) / 1024
    return wall, rss, json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=40000)
    parser.add_argument("--skip-7b", action="store_true")
    args = parser.parse_args()
    print(machine())
    rows, failures = [], 0
    with tempfile.TemporaryDirectory() as folder:
        for item in build(Path(folder), args.nodes, args.skip_7b):
            concrete, symbolic = [], []
            for _ in range(args.repeats):  # interleaved: drift hits both alike
                concrete.append(run([item["path"], "--dim", f"{BATCH}=1", "--dim", f"{SEQ}=128"]))
                symbolic.append(run([item["path"]]))
            c_wall = sorted(r[0] for r in concrete)[len(concrete) // 2]
            s_wall = sorted(r[0] for r in symbolic)[len(symbolic) // 2]
            c_rss = sorted(r[1] for r in concrete)[len(concrete) // 2]
            s_rss = sorted(r[1] for r in symbolic)[len(symbolic) // 2]
            formula = symbolic[0][2]["totals"].get("macs_expr")
            if item.get("linear") is not None:
                blocks = item["blocks"]
                expected = (f"{blocks * item['quadratic']}*batch*seq**2 + "
                            f"{blocks * item['linear'] + item['extra_linear']}*batch*seq")
                ok = formula == expected
                failures += not ok
                print(f"{item['label']}: MACs = {formula} (hand count {expected}: {'equal' if ok else 'DIFFERENT'})")
            else:
                print(f"{item['label']}: MACs = {formula}")
            rows.append([item["label"], f"{c_wall:.2f} s", f"{s_wall:.2f} s", f"{s_wall / c_wall:.2f}x",
                         f"{c_rss:.0f} MiB", f"{s_rss:.0f} MiB", f"{s_rss / c_rss:.2f}x"])
    print(table(["model", "concrete", "formulas", "time ratio", "RSS concrete", "RSS formulas", "RSS ratio"], rows))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
