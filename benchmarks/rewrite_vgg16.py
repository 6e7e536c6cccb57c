"""Rewrites of VGG-16: MACs ratio, onnxruntime latency ratio, output error.

    python benchmarks/rewrite_vgg16.py [--runs 15] [--warmup 3] [--only separable|grouped]

Separable at rank 1 and 3. At rank 3 both emissions of the depthwise conv are
timed as whole models (``multiplier``: one conv with depth multiplier 3;
``concat``: three multiplier-1 convs and a Concat), next to ``auto`` (the
per-layer choice the pass makes by timing each layer alone).

Grouped plus shuffle for G = 2, 4, 8 at ranks per block with G·r = 8, 32 and
128 (so each G is seen at the same three MACs levels), written with the
exporters' shuffle; at G = 4, r = 8 also with the Gather, as whole models. Then
the dry-run comparison: at each rewritten layer's MACs, the weight error of the
grouped form, the separable form and the plain low-rank pair, and which is least.

Everything runs in one process; each group of models (the separable ones, then
each G) is timed with the original, runs interleaved
(``onnxcost.validation.time_models``) so that drift in the machine's speed hits
all of them alike; the figure is the median.

The sample's weights are seeded He-normal random numbers: their spectra are
flat, so low ranks lose most of each kernel and the output error is large. That
is a property of random weights, not of the surgery (exact mode reproduces the
outputs to about 1e-6); trained kernels have decaying spectra.
"""

from __future__ import annotations

import argparse
import time

from onnxcost import passes
from onnxcost.samples import vgg16
from onnxcost.validation import Bounds, compare_models, random_inputs, time_models


def conv_macs(report) -> int:
    return sum(row.macs for row in report.nodes if row.op_type == "Conv")


GROUPED_RANKS = {2: (4, 16, 64), 4: (2, 8, 32), 8: (1, 4, 16)}  # G·r = 8, 32, 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per model (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per model first")
    parser.add_argument("--only", choices=("separable", "grouped"), help="run one part only")
    args = parser.parse_args()

    import onnxcost

    original = vgg16()
    base = onnxcost.analyze_model(original)
    feeds, _ = random_inputs(original, seed=0)
    if args.only != "grouped":
        separable_part(original, base, feeds, args)
    if args.only != "separable":
        grouped_part(original, base, feeds, args)


def separable_part(original, base, feeds, args) -> None:
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
    print(flush=True)


def grouped_part(original, base, feeds, args) -> None:
    header = f"{'G':>2} {'r':>3} {'emission':<8} {'layers':>6} {'MACs':>14} {'MACs ratio':>10} {'conv ratio':>10} " \
             f"{'params':>12} {'traffic':>8} {'median ms':>10} {'lat. ratio':>10} {'best ms':>8} {'ratio':>6} " \
             f"{'rel L2 err':>10} {'cosine':>8} {'top-1':>6}"
    rows = []
    comparisons = []
    for groups, ranks in GROUPED_RANKS.items():
        variants = {}
        configs = [(rank, "shuffle") for rank in ranks] + ([(8, "gather")] if groups == 4 else [])
        for rank, emission in configs:
            start = time.perf_counter()
            result = passes.grouped(original, groups, passes.Rank(rank), emission=emission, validate=False)
            comparison = compare_models(original, result.model, feeds, Bounds(), input_source="random, seed 0")
            variants[(rank, emission)] = (result, comparison)
            print(f"rewrote G={groups} rank {rank} {emission}: {time.perf_counter() - start:.1f} s", flush=True)
        models = {"original": original, **{f"{rank} {emission}": v[0].model for (rank, emission), v in variants.items()}}
        timings = time_models(models, feeds, warmup=args.warmup, runs=args.runs)
        t0, b0 = timings["original"].median, timings["original"].minimum
        rows.append(f"{'-':>2} {'-':>3} {'original':<8} {0:>6} {base.totals.macs:>14,} {1:>10.3f} {1:>10.3f} "
                    f"{base.totals.params:>12,} {1:>8.3f} {t0 * 1e3:>10.1f} {1:>10.3f} {b0 * 1e3:>8.1f} {1:>6.3f} "
                    f"{0:>10.3g} {1:>8.4f} {'100%':>6}")
        for (rank, emission), (result, comparison) in variants.items():
            report = result.report
            (out,) = comparison.outputs
            t, best = timings[f"{rank} {emission}"].median, timings[f"{rank} {emission}"].minimum
            rows.append(
                f"{groups:>2} {rank:>3} {emission:<8} {len(result.plan.rewritten):>6} {report.totals.macs:>14,} "
                f"{report.totals.macs / base.totals.macs:>10.3f} {conv_macs(report) / conv_macs(base):>10.3f} "
                f"{report.totals.params:>12,} {report.totals.memory_traffic_bytes / base.totals.memory_traffic_bytes:>8.3f} "
                f"{t * 1e3:>10.1f} {t / t0:>10.3f} {best * 1e3:>8.1f} {best / b0:>6.3f} {out.rel_l2_error:>10.3g} "
                f"{out.cosine:>8.4f} {100 * out.top1_agreement:>5.0f}%")
        del models, variants, timings
        for rank in ranks:
            plan = passes.Rewriter(original, passes.Grouped(groups)).plan(passes.Rank(rank), emission="shuffle", compare=True)
            comparisons.append((groups, rank, plan))

    print()
    print(f"VGG-16 grouped plus shuffle (sample, 1x3x224x224), onnxruntime CPU, {args.runs} interleaved runs after "
          f"{args.warmup} warm-up with the original, median; traffic: memory traffic ratio by onnxcost's report")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(row)

    print()
    print("Dry-run comparison at each rewritten layer's MACs: weight rel. error, mean over the rewritten layers where "
          "the structure reaches those MACs (n/a: layers where even its rank 1 costs more, or a 1x1 for separable)")
    head = f"{'G':>2} {'r':>3} {'layers':>6} {'grouped':>8} {'separable':>16} {'low-rank pair':>16}  least error (layers)"
    print(head)
    print("-" * len(head))
    for groups, rank, plan in comparisons:
        layers = plan.rewritten
        errors = {"grouped": [layer.weight_rel_error for layer in layers], "separable": [], "low-rank pair": []}
        for layer in layers:
            for alternative in layer.alternatives:
                errors[alternative.structure].append(alternative.weight_rel_error)
        wins = {}
        for layer in layers:
            wins[layer.least_error] = wins.get(layer.least_error, 0) + 1
        cells = []
        for key in ("grouped", "separable", "low-rank pair"):
            known = [e for e in errors[key] if e is not None]
            missing = len(errors[key]) - len(known)
            text = f"{sum(known) / len(known):.4f}" if known else "-"
            cells.append(text + (f" ({missing} n/a)" if missing else ""))
        print(f"{groups:>2} {rank:>3} {len(layers):>6} {cells[0]:>8} {cells[1]:>16} {cells[2]:>16}  "
              + ", ".join(f"{k} {v}" for k, v in sorted(wins.items(), key=lambda w: -w[1])))


if __name__ == "__main__":
    main()
