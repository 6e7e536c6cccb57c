"""onnxcost report: the cost of every node and the totals."""

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Optional

import typer

from .failing import reported_errors
from .options import (Debug, Format, MaxFileSize, ModelToReport, Output, SampleToReport, Shapes, check_paths,
                      model_or_sample, parse_dim_ranges, parse_inputs, parse_max_file_size)
from .output import emit, stderr, stderr_is_terminal, terminal_width, warn_all, wrote
from .report_options import (
    ArenaInPlace, ArenaOption, BaselineParams, Batch, FormulasOption, MixedPrecision, OptimizerOption, ReportDims, Training,
    WeightBits, section_inputs, sections,
)


def report(
    model: ModelToReport = None,
    sample: SampleToReport = None,
    input: Shapes = [],
    dim: ReportDims = [],
    format: Annotated[Format, typer.Option("--format", "-f", help="table for people; json, csv, md for machines and docs; netron for Netron's attachment file; html for one self-contained page with charts (docs/html.md).")] = Format.table,
    output: Output = None,
    top: Annotated[Optional[int], typer.Option(help="Show only the N heaviest nodes (by MACs, then FLOPs, then traffic).", min=1, metavar="N")] = None,
    annotate: Annotated[Optional[Path], typer.Option("--annotate", metavar="OUT.onnx", help="Also write a copy of the model with each node's costs in its metadata (for Netron).")] = None,
    weight_bits: WeightBits = None,
    baseline_params: BaselineParams = None,
    training: Training = False,
    batch: Batch = None,
    optimizer: OptimizerOption = None,
    mixed_precision: MixedPrecision = False,
    arena: ArenaOption = False,
    arena_in_place: ArenaInPlace = False,
    formulas: FormulasOption = True,
    max_file_size: MaxFileSize = "2GiB",
    debug: Debug = False,
) -> None:
    """Per-node and total cost of a model: MACs, FLOPs, parameters, activation and peak memory, memory traffic.

    Examples:

      onnxcost report model.onnx

      onnxcost report model.onnx --dim batch=8 --top 10

      onnxcost report model.onnx -f json -o cost.json

      onnxcost report --sample vgg16 --training --batch 32 --optimizer adam --arena

      onnxcost report --sample squeezenet1_0 --weight-bits 32,8,6 --baseline-params alexnet
    """
    with reported_errors(debug):
        from ..analysis import analyze, paused_collection
        from ..render import render
        from ..render.report_sections import with_sections

        target, source = model_or_sample(model, sample)
        inputs = ([model] if model is not None else []) + section_inputs(baseline_params)
        for path in (output, annotate):
            check_paths(inputs, path)
        (dims, ranges), shapes, limit = parse_dim_ranges(dim), parse_inputs(input), parse_max_file_size(max_file_size)
        # From the analysis to the last use of the report, no collection (analysis.paused_collection): the report's
        # objects make no cycles, and each collection would pass over all of them.
        with paused_collection():
            with stderr.status("costing the model...") if stderr_is_terminal() else nullcontext():
                result = analyze(target, shapes, dims, max_file_bytes=limit, source=source, formulas=formulas,
                                 ranges=ranges)
            warn_all(result.warnings)
            extra = sections(result, format.value, training=training, batch=batch, optimizer=optimizer,
                             mixed_precision=mixed_precision, weight_bits=weight_bits, baseline_params=baseline_params,
                             arena="in-place" if arena_in_place else arena, max_file_bytes=limit)
            text = render(result, format.value, top=top, width=terminal_width())
            emit(with_sections(text, format.value, extra, terminal_width()), output, keep=inputs)
            if annotate is not None:
                from ..annotate import annotate as write_annotated

                done = write_annotated(target, result, annotate, max_file_bytes=limit)
                wrote(done.path)
                warn_all([f"{len(done.unmatched)} node(s) not annotated: no row of the report matches them"]
                         if done.unmatched else [])
            del result, extra, text  # freed while the collector is off: once back, its first pass would visit them all
