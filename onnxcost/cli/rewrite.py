"""onnxcost rewrite: make the convolutions cheaper, show what it saves and costs, check it in onnxruntime."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import (
    DIMS_OPTION, MAX_FILE_SIZE_OPTION, SHAPES_OPTION, DebugOption, app, build_sample, emit, parse_dims, parse_inputs,
    reported_errors, stderr, terminal_width,
)
from .checking import (
    ATOL_OPTION, INPUTS_FILE_OPTION, MAX_REL_ERROR_OPTION, RTOL_OPTION, SEED_OPTION, ProgressBar, make_bounds,
    validation_feeds, warn,
)
from ..errors import InputSpecError, ValidationFailed


class Emission(str, Enum):  # every structure's emissions; the driver refuses one the chosen structure does not write
    auto = "auto"
    multiplier = "multiplier"
    concat = "concat"
    shuffle = "shuffle"
    gather = "gather"


class RewriteFormat(str, Enum):
    table = "table"
    json = "json"


@app.command()
def rewrite(
    model: Annotated[Optional[str], typer.Argument(help="The .onnx file to rewrite.", metavar="MODEL.onnx", show_default=False)] = None,
    separable: Annotated[bool, typer.Option("--separable", help="Depthwise-separable: each KxK conv becomes a depthwise KxK conv (depth multiplier r) and a 1x1 conv.")] = False,
    grouped: Annotated[Optional[int], typer.Option("--grouped", metavar="G", help="Grouped plus shuffle (ShuffleNet): each dense conv becomes a grouped KxK conv (G groups, Cin -> G·G·r), a channel shuffle and a grouped 1x1 conv (G groups); G must divide Cin and Cout. G = 1: the plain low-rank pair.")] = None,
    exact: Annotated[bool, typer.Option("--exact", help="r = each layer's rank: the same function up to float rounding (MACs grow; proves the surgery). Validation fails past 1e-4 relative error.")] = False,
    rank: Annotated[Optional[int], typer.Option("--rank", metavar="R", help="Keep R singular vectors per input channel (separable) or per block of G output x G input channels (grouped) in every layer.")] = None,
    energy: Annotated[Optional[float], typer.Option("--energy", metavar="E", help="Per layer, the smallest r keeping fraction E (0 < E <= 1) of the squared singular values. Default mode: --energy 0.99.")] = None,
    target_macs: Annotated[Optional[str], typer.Option("--target-macs", metavar="X", help="Budget for the whole model: absolute (3G) or a ratio of its MACs (0.5x); r per layer with the least total error.")] = None,
    include: Annotated[list[str], typer.Option("--include", metavar="PATTERN", help="Rewrite only convs whose name matches (shell pattern, e.g. 'conv4_*'; repeatable).")] = [],
    exclude: Annotated[list[str], typer.Option("--exclude", metavar="PATTERN", help="Never rewrite convs whose name matches (repeatable; wins over --include).")] = [],
    min_channels: Annotated[int, typer.Option("--min-channels", metavar="N", help="Rewrite only convs with at least N input channels (the default skips a stem of <= 4).")] = 5,
    include_depthwise: Annotated[bool, typer.Option("--include-depthwise", help="Also consider convs that are already depthwise.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would change (r, kept energy, MACs, params and memory traffic after) and write nothing; for --grouped also the weight error of the other structures at each layer's MACs.")] = False,
    measure: Annotated[bool, typer.Option("--measure", help="Time each rewritten conv against the original in onnxruntime at its real input shape; keep only the faster.")] = False,
    emission: Annotated[Emission, typer.Option("--emission", help="separable: a depthwise conv of multiplier r > 1 as one conv (multiplier) or r convs and a Concat (concat); grouped: the shuffle as Reshape-Transpose-Reshape (shuffle, as exporters write it) or one Gather (gather). auto times the forms per layer and takes the faster.")] = Emission.auto,
    validate: Annotated[bool, typer.Option("--validate/--no-validate", help="Run original and rewritten in onnxruntime and compare the outputs.")] = True,
    inputs_file: Annotated[Optional[Path], INPUTS_FILE_OPTION] = None,
    seed: Annotated[int, SEED_OPTION] = 0,
    max_rel_error: Annotated[Optional[float], MAX_REL_ERROR_OPTION] = None,
    atol: Annotated[Optional[float], ATOL_OPTION] = None,
    rtol: Annotated[Optional[float], RTOL_OPTION] = None,
    force: Annotated[bool, typer.Option("--force", help="Write the model even when validation fails.")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", metavar="OUT.onnx", help="Where to write the rewritten model (atomically).")] = None,
    in_place: Annotated[bool, typer.Option("--in-place", help="Write over MODEL.onnx.")] = False,
    sample: Annotated[Optional[str], typer.Option(help="Rewrite a built-in sample model instead of a file (see 'onnxcost sample --list').", metavar="NAME")] = None,
    input: Annotated[list[str], SHAPES_OPTION] = [],
    dim: Annotated[list[str], DIMS_OPTION] = [],
    format: Annotated[RewriteFormat, typer.Option("--format", "-f", help="table for people, json for machines (exact integers).")] = RewriteFormat.table,
    max_file_size: Annotated[str, MAX_FILE_SIZE_OPTION] = "2GiB",
    debug: DebugOption = False,
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
        from onnxcost import passes

        from ..loading import load_model
        from ..units import parse_quantity

        structure = _structure(separable, grouped)
        mode = _mode(exact, rank, energy, target_macs)
        selection = passes.Selection(tuple(include), tuple(exclude), min_channels, include_depthwise)
        bounds = make_bounds(max_rel_error, atol, rtol)
        if (model is None) == (sample is None):
            raise InputSpecError("give either a model file or --sample NAME")
        target = _target(model, output, in_place, dry_run)
        shapes, dims = parse_inputs(input), parse_dims(dim)
        try:
            limit = parse_quantity(max_file_size)
        except ValueError as exc:
            raise InputSpecError(f"--max-file-size: {exc}") from None

        if sample is not None:
            proto, source = build_sample(sample), f"sample:{sample}"
        else:
            proto, source = load_model(model, load_weights=True, max_file_bytes=limit).model, model
        with ProgressBar() as progress:
            progress("costing the model", 0, 1)
            rewriter = passes.Rewriter(proto, structure, inputs=shapes, dims=dims, source=source)
            plan = rewriter.plan(mode, selection, emission=emission.value, measure=measure, progress=progress,
                                 compare=dry_run)
        for warning in plan.warnings:
            warn(warning)
        width = terminal_width()
        if dry_run:
            if format is RewriteFormat.json:
                emit(_json(plan, None, None, dry_run=True), None)
            else:
                emit(passes_view(plan, source, width, None, dry_run=True), None)
            return

        with ProgressBar() as progress:
            progress("rewriting and costing the rewritten model", 0, 1)
            rewritten, report = rewriter.apply(plan, full_check=False)  # save_model runs the full check on the file
            comparison = None
            if validate:
                feeds, described, input_warnings = validation_feeds(rewriter.model, inputs_file, seed, shapes, dims)
                for warning in input_warnings:
                    warn(warning)
                comparison = passes.validate_rewrite(rewriter.model, rewritten, plan, feeds=feeds, input_source=described,
                                                     bounds=bounds, progress=progress)
        if format is RewriteFormat.json:
            emit(_json(plan, report, comparison, dry_run=False), None)
        else:
            emit(passes_view(plan, source, width, report, dry_run=False), None)
            if comparison is not None:
                from .views import render_comparison

                emit("\n" + render_comparison(comparison, width), None)
        if comparison is not None:
            for warning in comparison.warnings:
                warn(warning)
        if comparison is not None and not comparison.ok:
            if not force:
                raise ValidationFailed(f"validation failed, nothing written: {comparison.failures[0]}"
                                       + (f" (and {len(comparison.failures) - 1} more)" if len(comparison.failures) > 1 else ""))
            warn("validation failed; writing anyway (--force)")
        if not validate:
            warn("not validated (--no-validate): the outputs were not compared in onnxruntime")
        passes.save(rewritten, target)  # onnxcost.files.save_model, and past 2 GiB too
        stderr.print(f"wrote {target}", markup=False)


def passes_view(plan, source, width, report, dry_run: bool) -> str:
    from .views import render_plan

    if report is None:
        return render_plan(plan, source, width, dry_run=dry_run)
    return render_plan(plan, source, width, report.totals.macs, report.totals.params, dry_run=dry_run,
                       report_traffic=report.totals.memory_traffic_bytes)


def _structure(separable: bool, grouped: Optional[int]):
    from onnxcost import passes

    given = {"separable": () if separable else None, "grouped": None if grouped is None else (grouped,)}
    chosen = [name for name, args in given.items() if args is not None]
    if not chosen:
        raise InputSpecError("choose a structure: --separable or --grouped G")
    if len(chosen) > 1:
        raise InputSpecError(f"choose one structure, not {' and '.join('--' + c for c in chosen)}")
    return passes.STRUCTURES[chosen[0]](*given[chosen[0]])


def _mode(exact: bool, rank: Optional[int], energy: Optional[float], target_macs: Optional[str]):
    from onnxcost import passes

    given = [flag for flag, on in (("--exact", exact), ("--rank", rank is not None), ("--energy", energy is not None),
                                   ("--target-macs", target_macs is not None)) if on]
    if len(given) > 1:
        raise InputSpecError(f"choose one mode, not {' and '.join(given)}")
    if exact:
        return passes.Exact()
    if rank is not None:
        return passes.Rank(rank)
    if energy is not None:
        return passes.Energy(energy)
    if target_macs is not None:
        return passes.TargetMacs.parse(target_macs)
    return None  # the default mode


def _target(model: Optional[str], output: Optional[Path], in_place: bool, dry_run: bool) -> Optional[Path]:
    """Where to write; refuses to write over the input unless --in-place."""
    if in_place and model is None:
        raise InputSpecError("--in-place needs a model file (not --sample)")
    if in_place and output is not None and (Path(model).resolve() != output.resolve()):
        raise InputSpecError("give either -o OUT.onnx or --in-place, not both")
    if in_place:
        return Path(model)
    if output is None:
        if dry_run:
            return None
        raise InputSpecError("give -o OUT.onnx (or --in-place to write over the input, or --dry-run to write nothing)")
    if model is not None and output.exists() and output.resolve() == Path(model).resolve():
        raise InputSpecError(f"-o {output} is the input model: refused without --in-place")
    if output.is_dir():
        raise InputSpecError(f"-o {output} is a directory")
    if not output.parent.exists():
        raise InputSpecError(f"-o {output}: folder {output.parent} does not exist")
    return output


def _json(plan, report, comparison, dry_run: bool) -> str:
    from .views import as_json

    payload = {
        "schema": "onnxcost.rewrite/1",
        "dry_run": dry_run,
        "plan": plan.to_dict(),
        "report_after": None if report is None else {"macs": report.totals.macs, "params": report.totals.params,
                                                     "memory_traffic_bytes": report.totals.memory_traffic_bytes},
        "validation": comparison,
    }
    return as_json(payload)
