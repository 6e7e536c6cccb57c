"""onnxcost rewrite: make the convolutions cheaper, show what it saves and costs, check it in onnxruntime."""

from __future__ import annotations

from .failing import reported_errors
from .options import (
    Atol, Debug, Dims, InputsFile, MaxFileSize, MaxRelError, ModelToRewrite, ResultFormat, ResultFormatOption, Rtol,
    SampleToRewrite, Seed, Shapes, make_bounds, model_or_sample, parse_dims, parse_inputs, parse_max_file_size,
)
from .output import ProgressBar, emit, terminal_width, warn, warn_all, wrote
from .rewrite_options import (
    DryRun, Emission, EmissionOption, Energy, Exact, Exclude, Force, Grouped, HtmlPage, Include, IncludeDepthwise, InPlace, Measure,
    MinChannels, Rank, RewriteOutput, Separable, TargetMacs, Validate, check_html_target, parse_mode, parse_structure, write_html,
    write_target,
)


def rewrite(
    model: ModelToRewrite = None, separable: Separable = False, grouped: Grouped = None, exact: Exact = False,
    rank: Rank = None, energy: Energy = None, target_macs: TargetMacs = None, include: Include = [],
    exclude: Exclude = [], min_channels: MinChannels = 5, include_depthwise: IncludeDepthwise = False,
    dry_run: DryRun = False, measure: Measure = False, emission: EmissionOption = Emission.auto,
    validate: Validate = True, inputs_file: InputsFile = None, seed: Seed = 0, max_rel_error: MaxRelError = None,
    atol: Atol = None, rtol: Rtol = None, force: Force = False, output: RewriteOutput = None, in_place: InPlace = False,
    sample: SampleToRewrite = None, input: Shapes = [], dim: Dims = [], format: ResultFormatOption = ResultFormat.table,
    max_file_size: MaxFileSize = "2GiB", html: HtmlPage = None, debug: Debug = False,
) -> None:
    """Rewrite the convolutions of a model into a cheaper structure, with the MACs, params and error it costs,
    validated in onnxruntime before anything is written.

    Without a mode option the default is --energy 0.99; a layer whose rewrite would not reduce MACs is left as it is
    (except with --exact), so the default never makes a model more expensive. See docs/rewrite.md.

    Examples:

      onnxcost rewrite --separable --rank 1 model.onnx -o model.sep.onnx

      onnxcost rewrite --separable --target-macs 0.5x --dry-run model.onnx

      onnxcost rewrite --separable --exact --sample vgg16 -o vgg16.exact.onnx

      onnxcost rewrite --separable --energy 0.9 --measure --max-rel-error 0.05 model.onnx -o out.onnx

      onnxcost rewrite --grouped 4 --rank 8 --dry-run model.onnx

      onnxcost rewrite --grouped 2 --exact --sample vgg16 -o vgg16.g2.onnx
    """
    with reported_errors(debug):
        from .. import passes
        from ..errors import ValidationFailed
        from ..render import render_rewrite

        structure, mode = parse_structure(separable, grouped), parse_mode(exact, rank, energy, target_macs)
        selection = passes.Selection(tuple(include), tuple(exclude), min_channels, include_depthwise)
        bounds = make_bounds(max_rel_error, atol, rtol)
        target, source = model_or_sample(model, sample)
        source = source or model  # the plan's title names a file as it was given
        destination = write_target(model, output, in_place, dry_run)
        check_html_target(html, model, destination)
        shapes, dims, limit = parse_inputs(input), parse_dims(dim), parse_max_file_size(max_file_size)
        with ProgressBar() as progress:
            result = passes.rewrite(target, structure, mode, selection, inputs=shapes, dims=dims, emission=emission.value,
                                    measure=measure, dry_run=dry_run, validate=validate, feeds=inputs_file, seed=seed,
                                    bounds=bounds, check=False, full_check=False, progress=progress, source=source,
                                    max_file_bytes=limit)  # save runs the full check on the written file
        warn_all(result.plan.warnings)
        emit(render_rewrite(result, format.value, source, width=terminal_width()))
        warn_all([*result.input_warnings, *(result.comparison.warnings if result.comparison is not None else [])])
        write_html(html, result, source, model)
        if dry_run:
            return
        if not result.ok and not force:
            raise ValidationFailed(f"validation failed, nothing written: {result.comparison.summary()}")
        if not result.ok:
            warn("validation failed; writing anyway (--force)")
        if not validate:
            warn("not validated (--no-validate): the outputs were not compared in onnxruntime")
        result.save(destination)
        wrote(destination)
