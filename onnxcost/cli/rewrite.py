"""onnxcost rewrite: make the convolutions cheaper, show what it saves and costs, check it in onnxruntime."""

from .dataset_options import Data, PreprocessSpec, parse_preprocess
from .failing import reported_errors
from .options import (
    Atol, Debug, Dims, MaxFileSize, MaxRelError, ModelToRewrite, ResultFormat, ResultFormatOption, Rtol,
    SampleToRewrite, Seed, Shapes, make_bounds, model_or_sample, parse_dims, parse_inputs, parse_max_file_size,
)
from .output import ProgressBar, emit, terminal_width, warn_all
from .rewrite_options import (
    Calibrate, DryRun, Emission, EmissionOption, Energy, Exact, Exclude, Force, Grouped, HtmlPage, Include, IncludeDepthwise,
    InPlace, Measure, MinChannels, Order, OrderOption, Rank, Refit, RewriteOutput, Sensitivity, Separable, TargetLatency, TargetMacs, Threads,
    Validate, check_html_target, finish, parse_mode, parse_structure, write_html, write_target,
)


def rewrite(
    model: ModelToRewrite = None, separable: Separable = False, order: OrderOption = Order.depthwise, grouped: Grouped = None,
    exact: Exact = False,
    rank: Rank = None, energy: Energy = None, target_macs: TargetMacs = None, target_latency: TargetLatency = None,
    threads: Threads = None, include: Include = [], exclude: Exclude = [], min_channels: MinChannels = 5, include_depthwise: IncludeDepthwise = False,
    dry_run: DryRun = False, measure: Measure = False, emission: EmissionOption = Emission.auto,
    calibrate: Calibrate = None, refit: Refit = True, sensitivity: Sensitivity = True, preprocess: PreprocessSpec = None,
    validate: Validate = True, inputs_file: Data = None, seed: Seed = 0, max_rel_error: MaxRelError = None,
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

      onnxcost rewrite --separable --target-macs 0.7x --calibrate pages/ --preprocess 'mean=0.5 std=0.5' model.onnx -o out.onnx

      onnxcost rewrite --separable --order auto --grouped 1 --target-latency 0.8x --threads 1 --calibrate pages.npz model.onnx -o out.onnx
    """
    with reported_errors(debug):
        from .. import passes
        from ..render import render_rewrite

        structure = parse_structure(separable, grouped, order.value)
        mode = parse_mode(exact, rank, energy, target_macs, target_latency, threads)
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
                                    calibration=calibrate, refit=refit, sensitivity=sensitivity, preprocess=parse_preprocess(preprocess),
                                    bounds=bounds, check=False, full_check=False, progress=progress, source=source,
                                    max_file_bytes=limit)  # save runs the full check on the written file
        warn_all(result.plan.warnings)
        emit(render_rewrite(result, format.value, source, width=terminal_width()))
        warn_all([*result.input_warnings, *(result.comparison.warnings if result.comparison is not None else [])])
        write_html(html, result, source, model)
        finish(result, destination, dry_run, force, validate)
