"""The rewrite frontier on real trained models: MACs ratio against task agreement, output error, latency and
memory traffic, weight-only factors against calibrated ones.

    python benchmarks/frontier.py --quick                       # det and rec, 0.9x 0.7x 0.5x
    python benchmarks/frontier.py --models det rec cls yolov8n --ratios 0.9 0.8 0.7 0.6 0.5 --svg frontier.svg

The models come from PyPI wheels, fetched by tests/support/trained.py (``pip download --no-deps``, unzipped,
never installed): PP-OCRv4 det and rec and the mobile direction classifier (rapidocr-onnxruntime 1.4.4) and
YOLOv8n at 320 (nudenet 3.4.2). Inputs are drawn in code (tests/support/rendered.py): pages of text for det,
text lines for rec and cls (half of the cls lines turned by 180°), synthetic scenes for YOLOv8n; calibration and
held-out samples never share a seed.

For each model, structure (separable, grouped G = 2 and 4) and ``--target-macs`` ratio, the rewrite is made
with ``onnxcost.passes.rewrite`` weight-only and, when that function takes a ``calibration`` dataset, calibrated
on the calibration samples. Every figure is measured on the held-out samples:

- task agreement: det, IoU of the text masks (p > 0.3) pooled over all pixels; rec, the share of lines whose
  greedy CTC string is the same; cls, top-1 agreement; yolov8n, the mean share of the 10 anchors with the
  highest class score that are the same (synthetic scenes give no confident detections to compare);
- rel. L2: ||y' - y|| / ||y|| of the model's output over all held-out samples;
- MACs and memory traffic ratios: onnxcost's reports of the rewritten and the original model;
- latency ratio: median of interleaved onnxruntime CPU runs on one sample (``onnxcost.validation.time_models``),
  every rewrite of a model timed together with its original.
A budget the structure cannot reach (``BudgetUnreachable``: separable can remove 1% of rec's MACs) is a row
saying so. Each model also gets a yardstick row, "int8 weights": the original with its weights rounded to int8 per
output channel (``onnxcost.validation.yardstick``), what a standard weight quantization changes on the same samples.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import onnx  # noqa: E402

import onnxcost  # noqa: E402
import onnxcost.passes as passes  # noqa: E402
from onnxcost.errors import OnnxcostError  # noqa: E402
from onnxcost.files import write_atomic  # noqa: E402
from onnxcost.render import svg  # noqa: E402
from onnxcost.validation import run, session, time_models  # noqa: E402
from onnxcost.validation.yardstick import rounded  # noqa: E402
from support import rendered, trained  # noqa: E402

CALIBRATED = "calibration" in inspect.signature(passes.rewrite).parameters
STRUCTURES = {"separable": passes.Separable, "grouped2": lambda: passes.Grouped(2),
              "grouped4": lambda: passes.Grouped(4)}
TOP_ANCHORS = 10


@dataclass
class Task:
    """One model's data and its agreement figure: ``make(seeds)`` the input batch, ``agree(y, y')`` in [0, 1]."""

    name: str
    make: Callable[[list[int]], np.ndarray]
    agree: Callable[[np.ndarray, np.ndarray], float]
    metric: str
    samples: tuple[int, int]  # calibration, held-out (full run)


def _tasks() -> dict[str, Task]:
    characters: list[str] = []

    def lines(seeds):
        characters[:] = characters or trained.ctc_characters()
        return [rendered.text_line(s, characters)[0] for s in seeds]

    def turned(seeds):  # odd seeds upside down: the classifier's two classes both occur
        return [np.ascontiguousarray(line[::-1, ::-1]) if s % 2 else line for s, line in zip(seeds, lines(seeds))]

    def strings(a, b):
        return float(np.mean([x == y for x, y in zip(rendered.ctc_decode(a, characters),
                                                     rendered.ctc_decode(b, characters))]))

    def anchors(a, b):
        top = [np.argsort(-rendered.yolo_score_map(y), axis=1)[:, :TOP_ANCHORS] for y in (a, b)]
        return float(np.mean([len(set(x) & set(y)) / TOP_ANCHORS for x, y in zip(*top)]))

    return {
        "det": Task("det", lambda s: rendered.det_input([rendered.page(i) for i in s]),
                    lambda a, b: rendered.iou(rendered.text_mask(a), rendered.text_mask(b)), "mask IoU", (8, 8)),
        "rec": Task("rec", lambda s: rendered.rec_input(lines(s)), strings, "CTC strings", (32, 32)),
        "cls": Task("cls", lambda s: rendered.cls_input(turned(s)),
                    lambda a, b: float(np.mean(a.argmax(1) == b.argmax(1))), "top-1", (32, 64)),
        "yolov8n": Task("yolov8n", lambda s: rendered.yolo_input([rendered.scene(i) for i in s]), anchors,
                        "top-10 anchors", (16, 16)),
    }


@dataclass
class Row:
    """One point of the frontier (None where it does not apply: an unreachable budget has only ``note``)."""

    model: str
    structure: str
    target: float
    factors: str  # "weight-only" or "calibrated"
    macs_ratio: float | None = None
    traffic_ratio: float | None = None
    latency_ratio: float | None = None
    agreement: float | None = None
    rel_l2: float | None = None
    seconds: float | None = None  # the rewrite's own time (calibration included)
    note: str = ""


def _outputs(model: onnx.ModelProto, name: str, batch: np.ndarray) -> np.ndarray:
    """The model's first output on every sample of ``batch``, run one sample at a time."""
    sess = session(model)
    first = sess.get_outputs()[0].name
    return np.concatenate([run(sess, {name: batch[i:i + 1]}, "model")[first] for i in range(len(batch))])


def frontier(name: str, ratios: list[float], structures: list[str], samples: tuple[int, int], timing_runs: int,
             log: Callable[[str], None], calibrated: bool = CALIBRATED) -> list[Row]:
    """The frontier of one model: every structure and ratio, weight-only and (``calibrated``) calibrated."""
    spec, task = trained.MODELS[name], _tasks()[name]
    original = onnx.load(str(trained.model_path(name)))
    shape = {spec.input_name: list(spec.shape)}
    before = onnxcost.analyze(original, shape).totals
    held = task.make(rendered.seeds(samples[1], rendered.HELD_OUT))
    reference = _outputs(original, spec.input_name, held)
    calibration = None
    if calibrated:
        from onnxcost.datasets import ArrayDataset

        calibration = ArrayDataset({spec.input_name: task.make(rendered.seeds(samples[0], rendered.CALIBRATION))})
    rounded_output = _outputs(rounded(original, "int8").model, spec.input_name, held)
    rows = [Row(name, "int8 weights", 1.0, "yardstick", macs_ratio=1.0, traffic_ratio=1.0,
                agreement=task.agree(reference, rounded_output), rel_l2=rendered.rel_l2(reference, rounded_output))]
    log(f"{name}: int8 weights (yardstick): {task.metric} {rows[0].agreement:.3f}, rel. L2 {rows[0].rel_l2:.3f}")
    models = {"original": original}
    for structure in structures:
        for ratio in ratios:
            for factors in ("weight-only", "calibrated") if calibrated else ("weight-only",):
                row = Row(name, structure, ratio, factors)
                rows.append(row)
                extra = {"calibration": calibration} if factors == "calibrated" else {}
                started = time.perf_counter()
                try:
                    result = passes.rewrite(original, STRUCTURES[structure](), passes.TargetMacs(ratio=ratio),
                                            inputs=shape, validate=False, **extra)
                except OnnxcostError as exc:
                    row.note = str(exc)
                    log(f"{name} {structure} {ratio}x {factors}: {exc}")
                    continue
                row.seconds = time.perf_counter() - started
                after = result.report.totals
                row.macs_ratio = after.macs / before.macs
                row.traffic_ratio = after.memory_traffic_bytes / before.memory_traffic_bytes
                output = _outputs(result.model, spec.input_name, held)
                row.agreement = task.agree(reference, output)
                row.rel_l2 = rendered.rel_l2(reference, output)
                models[f"{structure} {ratio} {factors}"] = result.model
                log(f"{name} {structure} {ratio}x {factors}: MACs {row.macs_ratio:.3f}x, {task.metric} "
                    f"{row.agreement:.3f}, rel. L2 {row.rel_l2:.3f} ({row.seconds:.0f} s)")
    log(f"{name}: timing {len(models)} models, {timing_runs} interleaved runs each")
    timings = time_models(models, {spec.input_name: held[:1]}, warmup=2, runs=timing_runs)
    base = timings["original"].median
    for row in rows:
        key = f"{row.structure} {row.target} {row.factors}"
        if key in timings:
            row.latency_ratio = timings[key].median / base
    log(f"{name}: original {before.macs:,} MACs, median {base * 1e3:.1f} ms")
    return rows


def table(rows: list[Row]) -> str:
    """A markdown table of the rows."""
    def f(value, digits=3):
        return "–" if value is None else f"{value:.{digits}f}"

    metric = {name: task.metric for name, task in _tasks().items()}
    lines = ["| model | structure | target | factors | MACs | traffic | latency | agreement | rel. L2 |",
             "|---|---|---:|---|---:|---:|---:|---|---:|"]
    for r in rows:
        agreement = "unreachable" if r.note else f"{f(r.agreement)} ({metric[r.model]})"
        lines.append(f"| {r.model} | {r.structure} | {r.target}x | {r.factors} | {f(r.macs_ratio)} | "
                     f"{f(r.traffic_ratio, 2)} | {f(r.latency_ratio, 2)} | {agreement} | {f(r.rel_l2)} |")
    return "\n".join(lines)


def plot(rows: list[Row]) -> str:
    """An SVG: one panel per model, task agreement (y) against MACs ratio (x), one line per structure and factors
    (solid calibrated, dashed weight-only)."""
    models = list(dict.fromkeys(r.model for r in rows))
    width, height, pad = 360, 260, 44
    series = list(dict.fromkeys((r.structure, r.factors) for r in rows))
    colour = {s: svg.PALETTE[i % len(svg.PALETTE)] for i, s in enumerate(dict.fromkeys(s for s, _ in series))}
    body = []
    for i, model in enumerate(models):
        x0 = i * width
        x_axis = svg.Axis(0.4, 1.0, False, x0 + pad, x0 + width - 12)
        y_axis = svg.Axis(0.0, 1.0, False, height - pad, 24)
        body.append(f'<text x="{x0 + width / 2}" y="14" text-anchor="middle" font-weight="bold">'
                    f'{svg.esc(model)}</text>')
        for t in (0.0, 0.25, 0.5, 0.75, 1.0):
            y = y_axis.at(t)
            body.append(f'<line x1="{x0 + pad}" x2="{x0 + width - 12}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                        f'<text x="{x0 + pad - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{t:g}</text>')
        for t in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
            body.append(f'<text x="{x_axis.at(t):.1f}" y="{height - pad + 14}" text-anchor="middle" '
                        f'font-size="10">{t:g}</text>')
        body.append(f'<text x="{x0 + width / 2}" y="{height - 12}" text-anchor="middle" font-size="11">'
                    f'MACs ratio</text>')
        for structure, factors in series:
            points = sorted((r.macs_ratio, r.agreement) for r in rows if r.model == model and r.structure == structure
                            and r.factors == factors and r.agreement is not None)
            if not points:
                continue
            path = " ".join(f"{x_axis.at(x):.1f},{y_axis.at(y):.1f}" for x, y in points)
            dash = "" if factors == "calibrated" else ' stroke-dasharray="5 3"'
            body.append(f'<polyline points="{path}" fill="none" stroke="{colour[structure]}" stroke-width="2"{dash}>'
                        f'<title>{svg.esc(f"{structure} {factors}")}</title></polyline>')
            body += [f'<circle cx="{x_axis.at(x):.1f}" cy="{y_axis.at(y):.1f}" r="3" fill="{colour[structure]}">'
                     f'<title>{svg.esc(f"{structure} {factors}: MACs {x:.3f}x, agreement {y:.3f}")}</title></circle>'
                     for x, y in points]
    keys = [f'<text x="{12 + 190 * j}" y="{height + 8}" font-size="11" fill="{colour[s]}">'
            f'{svg.esc(s)} {"—" if f == "calibrated" else "- -"} {svg.esc(f)}</text>'
            for j, (s, f) in enumerate(series)]
    total = width * max(len(models), 1)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total} {height + 16}" font-family="sans-serif">'
            f'<title>Task agreement against MACs ratio</title>{"".join(body + keys)}</svg>\n')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=list(trained.MODELS), default=list(trained.MODELS),
                        help="trained models to rewrite (default: all four)")
    parser.add_argument("--structures", nargs="+", choices=list(STRUCTURES), default=list(STRUCTURES),
                        help="separable, grouped2 (G = 2), grouped4 (G = 4); default: all")
    parser.add_argument("--ratios", nargs="+", type=float, default=[0.9, 0.8, 0.7, 0.6, 0.5],
                        help="--target-macs ratios (default 0.9 0.8 0.7 0.6 0.5)")
    parser.add_argument("--quick", action="store_true",
                        help="det and rec only (unless --models), ratios 0.9 0.7 0.5, half the samples, 5 timed runs")
    parser.add_argument("--weight-only", action="store_true", help="no calibrated rewrites (much faster)")
    parser.add_argument("--runs", type=int, default=15, help="interleaved timed runs per model (default 15)")
    parser.add_argument("--svg", type=Path, default=None, help="write the plot here")
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args(argv)
    given = set(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.models = args.models if "--models" in given else ["det", "rec"]
        args.ratios = args.ratios if "--ratios" in given else [0.9, 0.7, 0.5]
        args.runs = args.runs if "--runs" in given else 5

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    log("calibrated rewrites: " + ("yes" if CALIBRATED else "no (onnxcost.passes.rewrite has no `calibration`)"))
    rows = []
    for name in args.models:
        samples = _tasks()[name].samples
        if args.quick:
            samples = (max(samples[0] // 2, 4), max(samples[1] // 2, 4))
        calibrated = CALIBRATED and not args.weight_only
        done = frontier(name, args.ratios, args.structures, samples, args.runs, log, calibrated)
        rows += done
        log(table(done))  # each model's table as soon as it is measured; the files hold the rows so far
        if args.svg:
            write_atomic(args.svg, plot(rows))
        if args.json:
            write_atomic(args.json, json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
