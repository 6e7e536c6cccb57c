"""onnxcost validate: compare two models' outputs in onnxruntime, and time them."""

from typing import Annotated

import typer

from .dataset_options import BatchSize, Data, PreprocessSpec, parse_preprocess
from .failing import reported_errors
from .options import (
    Atol, Debug, Dims, MaxFileSize, MaxRelError, ResultFormat, Rtol, Seed, Shapes, make_bounds, parse_dims, parse_inputs,
    parse_max_file_size,
)
from .output import ProgressBar, emit, terminal_width, warn_all
from .validate_options import Blank, MaskThreshold, Task, TaskOption, YardstickOption, make_agreement


def validate(
    reference: Annotated[str, typer.Argument(help="The reference model (e.g. the original).", metavar="A.onnx", show_default=False)],
    candidate: Annotated[str, typer.Argument(help="The model to check against it (e.g. the rewritten one).", metavar="B.onnx", show_default=False)],
    inputs_file: Data = None,
    preprocess: PreprocessSpec = None,
    batch_size: BatchSize = None,
    seed: Seed = 0,
    input: Shapes = [],
    dim: Dims = [],
    max_rel_error: MaxRelError = None,
    atol: Atol = None,
    rtol: Rtol = None,
    task: TaskOption = Task.auto,
    mask_threshold: MaskThreshold = 0.5,
    blank: Blank = "0",
    yardstick: YardstickOption = None,
    bench: Annotated[bool, typer.Option("--bench", help="Also time both models in onnxruntime (warm-up, then interleaved runs; median).")] = False,
    warmup: Annotated[int, typer.Option("--warmup", min=0, metavar="N", help="Warm-up runs per model before timing.")] = 3,
    runs: Annotated[int, typer.Option("--runs", min=1, metavar="N", help="Timed runs per model.")] = 20,
    format: Annotated[ResultFormat, typer.Option("--format", "-f", help="table for people, json for machines.")] = ResultFormat.table,
    max_file_size: MaxFileSize = "2GiB",
    debug: Debug = False,
) -> None:
    """Run A and B in onnxruntime on the same inputs and compare every output: max abs error, relative L2 error,
    cosine similarity, and what the task sees (top-1/top-5 agreement, mask IoU, equal decoded sequences). With
    --inputs, every sample is run (in batches) and the figures are over all of them. Exit code 1 when a given
    bound is exceeded.

    Examples:

      onnxcost validate model.onnx model.sep.onnx --inputs pages/ --preprocess 'mean=0.5 std=0.5' --task mask

      onnxcost validate model.onnx model.sep.onnx --max-rel-error 0.01 --bench

      onnxcost validate rec.onnx rec.grouped.onnx --inputs lines.npz --task sequence --yardstick int8

      onnxcost validate model.onnx model.sep.onnx --inputs batch.npz --atol 1e-3 --rtol 1e-3
    """
    with reported_errors(debug):
        from ..errors import ValidationFailed
        from ..render import render_validation
        from ..validation import validate as compare_in_onnxruntime

        bounds, agreement = make_bounds(max_rel_error, atol, rtol), make_agreement(task, mask_threshold, blank)
        shapes, dims, limit = parse_inputs(input), parse_dims(dim), parse_max_file_size(max_file_size)
        with ProgressBar() as progress:
            result = compare_in_onnxruntime(reference, candidate, feeds=inputs_file, seed=seed, inputs=shapes, dims=dims,
                                            bounds=bounds, bench=bench, warmup=warmup, runs=runs, max_file_bytes=limit,
                                            progress=progress, preprocess=parse_preprocess(preprocess),
                                            batch_size=batch_size, agreement=agreement,
                                            yardstick=None if yardstick is None else yardstick.value)
        warn_all([*result.notes, *result.warnings, *result.comparison.warnings])
        emit(render_validation(result, format.value, width=terminal_width()))
        if not result.ok:
            raise ValidationFailed(result.comparison.summary())
