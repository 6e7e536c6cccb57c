"""onnxcost validate: compare two models' outputs in onnxruntime, and time them."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import DIMS_OPTION, MAX_FILE_SIZE_OPTION, SHAPES_OPTION, DebugOption, app, emit, parse_dims, parse_inputs, reported_errors, terminal_width
from .checking import ATOL_OPTION, INPUTS_FILE_OPTION, MAX_REL_ERROR_OPTION, RTOL_OPTION, SEED_OPTION, ProgressBar, make_bounds, validation_feeds, warn
from ..errors import InputSpecError, ValidationFailed


class ValidateFormat(str, Enum):
    table = "table"
    json = "json"


@app.command()
def validate(
    reference: Annotated[str, typer.Argument(help="The reference model (e.g. the original).", metavar="A.onnx", show_default=False)],
    candidate: Annotated[str, typer.Argument(help="The model to check against it (e.g. the rewritten one).", metavar="B.onnx", show_default=False)],
    inputs_file: Annotated[Optional[Path], INPUTS_FILE_OPTION] = None,
    seed: Annotated[int, SEED_OPTION] = 0,
    input: Annotated[list[str], SHAPES_OPTION] = [],
    dim: Annotated[list[str], DIMS_OPTION] = [],
    max_rel_error: Annotated[Optional[float], MAX_REL_ERROR_OPTION] = None,
    atol: Annotated[Optional[float], ATOL_OPTION] = None,
    rtol: Annotated[Optional[float], RTOL_OPTION] = None,
    bench: Annotated[bool, typer.Option("--bench", help="Also time both models in onnxruntime (warm-up, then interleaved runs; median).")] = False,
    warmup: Annotated[int, typer.Option("--warmup", min=0, metavar="N", help="Warm-up runs per model before timing.")] = 3,
    runs: Annotated[int, typer.Option("--runs", min=1, metavar="N", help="Timed runs per model.")] = 20,
    format: Annotated[ValidateFormat, typer.Option("--format", "-f", help="table for people, json for machines.")] = ValidateFormat.table,
    max_file_size: Annotated[str, MAX_FILE_SIZE_OPTION] = "2GiB",
    debug: DebugOption = False,
) -> None:
    """Run A and B in onnxruntime on the same inputs and compare every output: max abs error, relative L2 error,
    cosine similarity, top-1 agreement of a [N, classes] output. Exit code 1 when a given bound is exceeded.

    Examples:

      onnxcost validate model.onnx model.sep.onnx

      onnxcost validate model.onnx model.sep.onnx --max-rel-error 0.01 --bench

      onnxcost validate model.onnx model.sep.onnx --inputs batch.npz --atol 1e-3 --rtol 1e-3
    """
    with reported_errors(debug):
        from ..analysis import analyze_model
        from ..loading import load_model
        from ..units import parse_quantity
        from ..validation import compare_models, time_models
        from .views import as_json, render_bench, render_comparison

        bounds = make_bounds(max_rel_error, atol, rtol)
        shapes, dims = parse_inputs(input), parse_dims(dim)
        try:
            limit = parse_quantity(max_file_size)
        except ValueError as exc:
            raise InputSpecError(f"--max-file-size: {exc}") from None
        a = load_model(reference, load_weights=True, max_file_bytes=limit).model
        b = load_model(candidate, load_weights=True, max_file_bytes=limit).model
        # The reports refuse broken models (cycles, bad dims, unknown opsets) with a clear line before
        # onnxruntime sees them, and give the MACs shown next to the latency.
        macs = {"a": analyze_model(a, reference, shapes, dims).totals.macs,
                "b": analyze_model(b, candidate, shapes, dims).totals.macs}
        feeds, described, input_warnings = validation_feeds(a, inputs_file, seed, shapes, dims)
        for warning in input_warnings:
            warn(warning)
        with ProgressBar() as progress:
            comparison = compare_models(a, b, feeds, bounds, input_source=described,
                                        names=(f"'{reference}'", f"'{candidate}'"), progress=progress)
            timings = None
            if bench:
                timings = time_models({"a": a, "b": b}, feeds, warmup=warmup, runs=runs, progress=progress, what="timing")
        for warning in comparison.warnings:
            warn(warning)
        width = terminal_width()
        if format is ValidateFormat.json:
            payload = {"schema": "onnxcost.validate/1", "reference": reference, "candidate": candidate,
                       "comparison": comparison}
            if timings is not None:
                payload["bench"] = {key: {"median_s": t.median, "min_s": t.minimum, "runs_s": t.runs, "macs": macs[key]}
                                    for key, t in timings.items()}
            emit(as_json(payload), None)
        else:
            emit(render_comparison(comparison, width, title=f"Validation (onnxruntime): {candidate} against {reference}"), None)
            if timings is not None:
                emit("\n" + render_bench(timings, macs, {"a": f"A {reference}", "b": f"B {candidate}"}, width), None)
        if not comparison.ok:
            raise ValidationFailed(f"{comparison.failures[0]}"
                                   + (f" (and {len(comparison.failures) - 1} more)" if len(comparison.failures) > 1 else ""))
