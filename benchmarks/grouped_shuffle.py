"""How to write the channel shuffle of the grouped rewrite: four exact forms timed in onnxruntime.

    python benchmarks/grouped_shuffle.py [--runs 200] [--layer-runs 25]

1. The shuffle alone, on middle tensors of VGG-16's shapes ([1, M, H, W], G groups):
   - ``shuffle``: Reshape [0, G, M/G, H, W] -> Transpose [0, 2, 1, 3, 4] -> Reshape [0, M, H, W] (exporters);
   - ``gather``: one Gather on axis 1 with the permutation as int64 indices;
   - ``split-concat``: Split into G·G pieces of M/G² channels, Concat in transposed order (the pieces move
     whole, so the 1x1 columns would be reordered to match);
   - ``identity``: an Identity, the floor (onnxruntime copies a graph output once anyway).
2. One VGG-shaped layer, whole replacement against the dense conv:
   - ``shuffle`` and ``gather``: as the pass emits them (``Grouped.emit`` through ``layer_models.replacement_model``);
   - ``g-convs-concat``: no shuffle at all: G grouped KxK convs (one per output group, G groups, Cin -> G·r
     each) joined by a Concat, the 1x1 columns reordered to match;
   - ``no-shuffle``: the grouped convs without the shuffle (a different function: the floor).
   Every exact form is checked against the dense conv (relative L2 error < 1e-5) before it is timed.

Timings: runs interleaved in one process (``onnxcost.validation.time_models``), median and fastest run.
"""

from __future__ import annotations

import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnxcost import passes
from onnxcost.passes.block_factorize import channel_shuffle_permutation
from onnxcost.passes.layer_models import replacement_model
from onnxcost.validation import run, session, time_models

OPSET, IR = 17, 8


def _model(nodes, initializers: dict[str, np.ndarray], shape) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "bench", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.ascontiguousarray(v), k) for k, v in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR
    return model


def shuffles_alone(m: int, side: int, g: int) -> dict[str, onnx.ModelProto]:
    shape = (1, m, side, side)
    pieces = [f"p{i}" for i in range(g * g)]
    return {
        "identity": _model([helper.make_node("Identity", ["x"], ["y"])], {}, shape),
        "shuffle": _model([helper.make_node("Reshape", ["x", "s5"], ["a"]),
                           helper.make_node("Transpose", ["a"], ["b"], perm=[0, 2, 1, 3, 4]),
                           helper.make_node("Reshape", ["b", "s4"], ["y"])],
                          {"s5": np.array([0, g, m // g, side, side], np.int64), "s4": np.array([0, m, side, side], np.int64)},
                          shape),
        "gather": _model([helper.make_node("Gather", ["x", "perm"], ["y"], axis=1)],
                         {"perm": channel_shuffle_permutation(m, g).astype(np.int64)}, shape),
        "split-concat": _model([helper.make_node("Split", ["x", "sizes"], pieces, axis=1),
                                helper.make_node("Concat", [pieces[q * g + p] for p in range(g) for q in range(g)], ["y"], axis=1)],
                               {"sizes": np.full(g * g, m // (g * g), np.int64)}, shape),
    }


def layer_forms(cin: int, cout: int, side: int, g: int, r: int) -> tuple[dict[str, onnx.ModelProto], dict[str, np.ndarray], int]:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((cout, cin, 3, 3)).astype(np.float32)
    dense = _model([helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1] * 4)], {"w": w}, (1, cin, side, side))
    structure = passes.Grouped(g)
    site = next(iter(passes.Rewriter(dense, structure).sites.values()))
    factors = structure.decompose(site).factors(r)
    models = {"dense": dense}
    for variant in ("shuffle", "gather"):
        models[variant] = replacement_model(site, structure, factors, variant, OPSET, IR)
    # No shuffle: conv p (G groups) makes output group p's middle channels, q-major: local q·r + t = V_pq[t].
    b, m = cin // g, factors.middle
    spatial = factors.spatial.reshape(g, g, r, b, 3, 3).transpose(1, 0, 2, 3, 4, 5).reshape(g, g * r, b, 3, 3)  # [p][q, t]
    pointwise = factors.pointwise.reshape(cout, r, g).transpose(0, 2, 1).reshape(cout, g * r, 1, 1)  # t·G + q -> q·r + t
    nodes = [helper.make_node("Conv", ["x", f"w{p}"], [f"m{p}"], group=g, kernel_shape=[3, 3], pads=[1] * 4) for p in range(g)]
    nodes += [helper.make_node("Concat", [f"m{p}" for p in range(g)], ["mid"], axis=1),
              helper.make_node("Conv", ["mid", "pw"], ["y"], group=g, kernel_shape=[1, 1])]
    models["g-convs-concat"] = _model(nodes, {**{f"w{p}": spatial[p] for p in range(g)}, "pw": pointwise}, (1, cin, side, side))
    models["no-shuffle"] = _model([helper.make_node("Conv", ["x", "ws"], ["mid"], group=g, kernel_shape=[3, 3], pads=[1] * 4),
                                   helper.make_node("Conv", ["mid", "pw"], ["y"], group=g, kernel_shape=[1, 1])],
                                  {"ws": factors.spatial, "pw": factors.pointwise[:, :, None, None]}, (1, cin, side, side))
    feeds = {"x": rng.standard_normal((1, cin, side, side)).astype(np.float32)}
    return models, feeds, m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs of each shuffle alone")
    parser.add_argument("--layer-runs", type=int, default=25, help="timed runs of each one-layer model")
    args = parser.parse_args()

    print("1. The shuffle alone, [1, M, H, W] float32; median / fastest run in µs, and the median minus the Identity's")
    keys = ("identity", "shuffle", "gather", "split-concat")
    print(f"{'tensor':<20} {'G':>2} {'MB':>6}  " + "  ".join(f"{k:>20}" for k in keys))
    for m, side, g in [(32, 112, 2), (64, 112, 4), (128, 56, 8), (256, 56, 8), (512, 28, 8), (256, 28, 4), (1024, 14, 2)]:
        models = shuffles_alone(m, side, g)
        x = {"x": np.random.default_rng(0).standard_normal((1, m, side, side)).astype(np.float32)}
        reference = run(session(models["shuffle"]), x)["y"]
        assert np.array_equal(run(session(models["gather"]), x)["y"], reference)
        # Split-concat moves whole pieces of r = M/G² channels: block (p, q)'s r channels land together (the 1x1
        # columns are then in q·r + t order rather than t·G + q): another permutation, as exact.
        r = m // (g * g)
        order = np.concatenate([np.arange(q * g * r + p * r, q * g * r + p * r + r) for p in range(g) for q in range(g)])
        assert np.array_equal(run(session(models["split-concat"]), x)["y"], x["x"][:, order])
        t = time_models(models, x, warmup=5, runs=args.runs)
        floor = t["identity"].median
        cells = [f"{t[k].median * 1e6:5.0f}/{t[k].minimum * 1e6:4.0f} (+{(t[k].median - floor) * 1e6:4.0f})" for k in keys]
        print(f"{f'[1,{m},{side},{side}]':<20} {g:>2} {m * side * side * 4 / 1e6:>6.2f}  " + "  ".join(f"{c:>20}" for c in cells),
              flush=True)

    print()
    print("2. One 3x3 layer (pads 1), the replacement against the dense conv; median ms (ratio to dense)")
    keys = ("dense", "shuffle", "gather", "g-convs-concat", "no-shuffle")
    print(f"{'layer':<22} {'G':>2} {'r':>3} {'M':>5}  " + "  ".join(f"{k:>16}" for k in keys))
    for cin, cout, side, g, r in [(64, 64, 112, 2, 8), (128, 128, 112, 4, 4), (256, 256, 56, 4, 8), (256, 256, 56, 8, 2),
                                  (512, 512, 28, 2, 32), (512, 512, 28, 8, 4), (512, 512, 14, 4, 8)]:
        models, feeds, m = layer_forms(cin, cout, side, g, r)
        full = layer_forms(cin, cout, 8, g, min(cout // g, cin // g * 9))  # exactness at full rank, small spatial size
        reference = run(session(full[0]["dense"]), full[1])["y"]
        for key in ("shuffle", "gather", "g-convs-concat"):
            out = run(session(full[0][key]), full[1])["y"]
            assert np.linalg.norm(out - reference) / np.linalg.norm(reference) < 1e-5, key
        t = time_models(models, feeds, warmup=3, runs=args.layer_runs)
        d = t["dense"].median
        cells = [f"{t[k].median * 1e3:7.2f} ({t[k].median / d:.2f})" for k in keys]
        print(f"{f'{cin}->{cout} {side}x{side}':<22} {g:>2} {r:>3} {m:>5}  " + "  ".join(f"{c:>16}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
