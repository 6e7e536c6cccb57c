"""Separable rewrite of VGG-16 at rank 1 and 3: MACs ratio, onnxruntime latency ratio, output error.

    python benchmarks/rewrite_vgg16.py [--runs 15] [--warmup 3]

Everything runs in one process: the original and every rewritten model are
timed with their runs interleaved (``onnxcost.validation.time_models``), so
drift in the machine's speed hits all of them alike; the figure is the median.
At rank 3 both emissions of the depthwise conv are timed as whole models
(``multiplier``: one conv with depth multiplier 3; ``concat``: three
multiplier-1 convs and a Concat), next to ``auto`` (the per-layer choice the
pass makes by timing each layer alone).

The sample's weights are seeded He-normal random numbers: their per-channel
spectra are flat, so low ranks lose most of each kernel and the output error
is large. That is a property of random weights, not of the surgery (exact mode
reproduces the outputs to 1e-6); trained kernels have decaying spectra.
"""

from __future__ import annotations

import argparse
import time

from onnxcost import passes
from onnxcost.samples import vgg16
from onnxcost.validation import Bounds, compare_models, random_inputs, time_models


def conv_macs(report) -> int:
    return sum(row.macs for row in report.nodes if row.op_type == "Conv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per model (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per model first")
    args = parser.parse_args()

    import onnxcost

    original = vgg16()
    base = onnxcost.analyze_model(original)
    feeds, _ = random_inputs(original, seed=0)
    variants = {}
    for label, rank, emission in [("rank 1", 1, "multiplier"), ("rank 3 multiplier", 3, "multiplier"),
                                  ("rank 3 concat", 3, "concat"), ("rank 3 auto", 3, "auto")]:
        start = time.perf_counter()
        result = passes.separable(original, passes.Rank(rank), emission=emission, validate=False)
        comparison = compare_models(original, result.model, feeds, Bounds(), input_source="random, seed 0")
        emissions = sorted({layer.emission for layer in result.plan.rewritten})
        variants[label] = (result, comparison, emissions, time.perf_counter() - start)
        print(f"rewrote {label}: {time.perf_counter() - start:.1f} s", flush=True)

    models = {"original": original, **{label: v[0].model for label, v in variants.items()}}
    timings = time_models(models, feeds, warmup=args.warmup, runs=args.runs)

    print()
    print(f"VGG-16 (sample, 1x3x224x224), onnxruntime CPU, {args.runs} interleaved runs after {args.warmup} warm-up, median")
    header = f"{'model':<20} {'MACs':>14} {'MACs ratio':>10} {'conv ratio':>10} {'params':>12} {'median ms':>10} " \
             f"{'lat. ratio':>10} {'best ms':>8} {'ratio':>6} {'rel L2 err':>10} {'cosine':>8} {'top-1':>6}  emission"
    print(header)
    print("-" * len(header))
    t0, b0 = timings["original"].median, timings["original"].minimum
    print(f"{'original':<20} {base.totals.macs:>14,} {1:>10.3f} {1:>10.3f} {base.totals.params:>12,} {t0 * 1e3:>10.1f} "
          f"{1:>10.3f} {b0 * 1e3:>8.1f} {1:>6.3f} {0:>10.3g} {1:>8.4f} {'100%':>6}  -")
    for label, (result, comparison, emissions, _) in variants.items():
        report = result.report
        (out,) = comparison.outputs
        t, best = timings[label].median, timings[label].minimum
        print(f"{label:<20} {report.totals.macs:>14,} {report.totals.macs / base.totals.macs:>10.3f} "
              f"{conv_macs(report) / conv_macs(base):>10.3f} {report.totals.params:>12,} {t * 1e3:>10.1f} {t / t0:>10.3f} "
              f"{best * 1e3:>8.1f} {best / b0:>6.3f} {out.rel_l2_error:>10.3g} {out.cosine:>8.4f} "
              f"{100 * out.top1_agreement:>5.0f}%  {','.join(emissions)}")
    mult, concat = timings["rank 3 multiplier"].median, timings["rank 3 concat"].median
    faster = "concat" if concat < mult else "multiplier"
    print()
    print(f"rank 3 emissions, whole model (median): multiplier {mult * 1e3:.1f} ms, concat {concat * 1e3:.1f} ms -> "
          f"{faster} faster by {abs(mult - concat) / max(mult, concat) * 100:.1f}%")
    auto = variants["rank 3 auto"][0]
    picks = {layer.name: layer.emission for layer in auto.plan.rewritten}
    print("auto, per layer (each layer timed alone, best run): " + ", ".join(f"{name}={emission}" for name, emission in picks.items()))
    for layer in auto.plan.rewritten:
        if layer.timings:
            ratio = layer.timings["concat"] / layer.timings["multiplier"]
            print(f"  {layer.name:<8} multiplier {layer.timings['multiplier'] * 1e3:7.2f} ms  concat {layer.timings['concat'] * 1e3:7.2f} ms"
                  f"  concat/multiplier {ratio:.2f}")


if __name__ == "__main__":
    main()
