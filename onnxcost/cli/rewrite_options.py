"""The options of ``onnxcost rewrite`` and how they become a structure, a mode and a place to write."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputSpecError


class Emission(str, Enum):  # every structure's emissions; the library refuses one the chosen structure does not write
    auto = "auto"
    multiplier = "multiplier"
    concat = "concat"
    pointwise_first = "pointwise first"
    summed = "summed"
    shuffle = "shuffle"
    gather = "gather"


class Order(str, Enum):  # the separable form's order of factors (passes.pointwise_first.ORDERS)
    depthwise = "depthwise"
    pointwise = "pointwise"
    auto = "auto"


Separable = Annotated[bool, typer.Option("--separable", help="Depthwise-separable: each KxK conv becomes a depthwise KxK conv (depth multiplier r) and a 1x1 conv.")]
OrderOption = Annotated[Order, typer.Option("--order", help="With --separable: depthwise (per input channel: a depthwise KxK conv, then a 1x1 conv), pointwise (per output channel: a 1x1 conv Cin -> Cout·r, then a grouped KxK conv of Cout groups r -> 1; its middle tensor has Cout·r channels where depthwise first has Cin·r, far fewer bytes when Cout < Cin), or auto (per layer, the order that onnxcost's report of the replacement says moves fewer bytes at equal MACs; the plan's order column says which).")]
Grouped = Annotated[Optional[int], typer.Option("--grouped", metavar="G", help="Grouped plus shuffle (ShuffleNet): each dense conv becomes a grouped KxK conv (G groups, Cin -> G·G·r), a channel shuffle and a grouped 1x1 conv (G groups); G must divide Cin and Cout. G = 1: the plain low-rank pair. With --separable too: separable for KxK convs, grouped for 1x1 convs, one budget over both.")]
Exact = Annotated[bool, typer.Option("--exact", help="r = each layer's rank: the same function up to float rounding (MACs grow; proves the surgery). Validation fails past 1e-4 relative error.")]
Rank = Annotated[Optional[int], typer.Option("--rank", metavar="R", help="Keep R singular vectors per input channel (separable) or per block of G output x G input channels (grouped) in every layer.")]
Energy = Annotated[Optional[float], typer.Option("--energy", metavar="E", help="Per layer, the smallest r keeping fraction E (0 < E <= 1) of the squared singular values. Default mode: --energy 0.99.")]
TargetMacs = Annotated[Optional[str], typer.Option("--target-macs", metavar="X", help="Budget for the whole model: absolute (3G) or a ratio of its MACs (0.5x); r per layer with the least total error.")]
TargetLatency = Annotated[Optional[str], typer.Option("--target-latency", metavar="X", help="Budget of the whole model's latency in onnxruntime (CPU), a ratio of the original's (0.8x): each layer timed alone at a few ranks, the ranks saving the most time per output error chosen (never one measured slower than its conv), then the whole model timed against the original to confirm.")]
Threads = Annotated[Optional[int], typer.Option("--threads", metavar="N", min=1, help="With --target-latency: onnxruntime's intra-op threads for every timing (default: one per core). Time as the model is deployed; 1 is also the steadiest on a busy machine.")]
Include = Annotated[list[str], typer.Option("--include", metavar="PATTERN", help="Rewrite only convs whose name matches (shell pattern, e.g. 'conv4_*'; repeatable).")]
Exclude = Annotated[list[str], typer.Option("--exclude", metavar="PATTERN", help="Never rewrite convs whose name matches (repeatable; wins over --include).")]
MinChannels = Annotated[int, typer.Option("--min-channels", metavar="N", help="Rewrite only convs with at least N input channels (the default skips a stem of <= 4).")]
IncludeDepthwise = Annotated[bool, typer.Option("--include-depthwise", help="Also consider convs that are already depthwise.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="List what would change (r, kept energy, MACs, params and memory traffic after) and write nothing; for --grouped also the weight error of the other structures at each layer's MACs.")]
Measure = Annotated[bool, typer.Option("--measure", help="Time each rewritten conv against the original in onnxruntime at its real input shape; keep only the faster.")]
EmissionOption = Annotated[Emission, typer.Option("--emission", help="separable: a depthwise conv of multiplier r > 1 as one conv (multiplier) or r convs and a Concat (concat); pointwise first: a grouped KxK conv of r inputs per group (pointwise first) or r pairs of 1x1 and depthwise convs added up (summed); grouped: the shuffle as Reshape-Transpose-Reshape (shuffle, as exporters write it) or one Gather (gather). auto times the forms per layer and takes the faster.")]
Validate = Annotated[bool, typer.Option("--validate/--no-validate", help="Run original and rewritten in onnxruntime and compare the outputs.")]
Force = Annotated[bool, typer.Option("--force", help="Write the model even when validation fails.")]
RewriteOutput = Annotated[Optional[Path], typer.Option("--output", "-o", metavar="OUT.onnx", help="Where to write the rewritten model (atomically).")]
InPlace = Annotated[bool, typer.Option("--in-place", help="Write over MODEL.onnx.")]
Calibrate = Annotated[Optional[Path], typer.Option("--calibrate", metavar="DATA", help="Calibration data (an .npz with one array per model input, a folder of <input>.npy files, or a folder of images, see --preprocess; first axis = samples; free input dimensions take the data's size unless --input or --dim gives them): each layer's factors minimise its output error on the data (whitened SVD, then refitted by least squares on the rewritten model's activations, see --refit), --target-macs spends the budget by the model's measured sensitivity to each layer (see --sensitivity), and the last fifth of the samples (at most 16) is held out to validate.")]
Refit = Annotated[bool, typer.Option("--refit/--no-refit", help="With --calibrate: refit each rewritten layer by least squares on the rewritten model's activations, layer after layer so later layers absorb earlier errors: both convs of a low-rank pair (--grouped 1) or of a pointwise-first layer where the data gives 20 rows per unknown, else the last conv; and the bias (--no-refit: whitened SVD only).")]
Sensitivity = Annotated[bool, typer.Option("--sensitivity/--no-sensitivity", help="With --calibrate and --target-macs or --target-latency: rewrite each layer alone at a few ranks and measure the change of the model's outputs on up to 16 calibration samples (3 onnxruntime sessions per layer), and spend the budget by it (--no-sensitivity: by each layer's own output error, no extra runs).")]
HtmlPage = Annotated[Optional[Path], typer.Option("--html", metavar="FILE.html", help="Also write the plan, per-layer costs, errors and validation as one self-contained HTML page (written even when validation fails).")]


def parse_structure(separable: bool, grouped: Optional[int], order: str = "depthwise"):
    """The structure chosen by --separable (in the order of --order), --grouped G, or both (separable for KxK
    kernels, grouped for 1x1)."""
    from .. import passes
    from ..passes.mixed import SeparableAndGrouped
    from ..passes.pointwise_first import separable_structure

    if not separable and grouped is None:
        raise InputSpecError("choose a structure: --separable, --grouped G, or both (separable for KxK, grouped for 1x1)")
    if order != "depthwise" and not separable:
        raise InputSpecError(f"--order {order} is the separable form's: use it with --separable")
    if separable and grouped is not None:
        return SeparableAndGrouped(grouped, order)
    return separable_structure(order) if separable else passes.Grouped(grouped)


def parse_mode(exact: bool, rank: Optional[int], energy: Optional[float], target_macs: Optional[str],
               target_latency: Optional[str] = None, threads: Optional[int] = None):
    """The mode chosen by --exact, --rank, --energy, --target-macs or --target-latency (at most one; None: the default
    mode)."""
    from .. import passes
    from ..passes.modes import TargetLatency

    given = [flag for flag, on in (("--exact", exact), ("--rank", rank is not None), ("--energy", energy is not None),
                                   ("--target-macs", target_macs is not None),
                                   ("--target-latency", target_latency is not None)) if on]
    if len(given) > 1:
        raise InputSpecError(f"choose one mode, not {' and '.join(given)}")
    if threads is not None and target_latency is None:
        raise InputSpecError("--threads sets the threads of --target-latency's timings: use it with --target-latency")
    if exact:
        return passes.Exact()
    if rank is not None:
        return passes.Rank(rank)
    if energy is not None:
        return passes.Energy(energy)
    if target_macs is not None:
        return passes.TargetMacs.parse(target_macs)
    if target_latency is not None:
        return TargetLatency.parse(target_latency, threads)
    return None  # the default mode


def write_target(model: Optional[str], output: Optional[Path], in_place: bool, dry_run: bool) -> Optional[Path]:
    """Where to write; refuses to write over the input unless --in-place, and anything but a regular file."""
    from ..files import check_target

    if in_place and model is None:
        raise InputSpecError("--in-place needs a model file (not --sample)")
    if in_place and output is not None and (Path(model).resolve() != output.resolve()):
        raise InputSpecError("give either -o OUT.onnx or --in-place, not both")
    if in_place:
        check_target(model)
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
    check_target(output, [model] if model is not None else [])  # a hard link to the input, a FIFO, a device
    return output


def check_html_target(html: Optional[Path], model: Optional[str], destination: Optional[Path]) -> None:
    """Before any work: --html must be a new or regular file that is neither the input nor the rewritten model."""
    from .options import check_paths

    if html is not None and destination is not None and html.resolve() == destination.resolve():
        raise InputSpecError(f"--html {html} is also the model's output (-o)")
    check_paths([model] if model is not None else [], html)


def write_html(html: Optional[Path], result, source: str, model: Optional[str]) -> None:
    """The rewrite's HTML page at ``html`` (atomically), when asked for."""
    if html is None:
        return
    from ..render.html_rewrite import render_rewrite_html
    from .output import emit, wrote

    emit(render_rewrite_html(result, source), html, keep=[model] if model is not None else [])
    wrote(html)


def finish(result, destination: Optional[Path], dry_run: bool, force: bool, validate: bool) -> None:
    """After the rewrite is shown: nothing for a dry run; else refuse a failed validation unless --force, say what
    was not checked, and write the model."""
    from ..errors import ValidationFailed
    from .output import warn, wrote

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
