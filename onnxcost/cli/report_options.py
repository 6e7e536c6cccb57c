"""The report's options for its extra sections (parameter sizes at precisions, training memory, activation arena)
and the library calls they make on the report."""

from __future__ import annotations

import os
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ..errors import InputSpecError

if TYPE_CHECKING:  # the report's module (its dataclasses) is imported by the analysis, not by --help
    from ..report import Report


class Optimizer(str, Enum):
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"


Training = Annotated[bool, typer.Option("--training", help="Also estimate the memory of a training step: activations kept for the backward pass, gradients, optimizer state, weights, each with its formula (docs/training.md).")]
Batch = Annotated[Optional[int], typer.Option("--batch", min=1, metavar="N", help="Training batch (implies --training; default 32).", show_default=False)]
OptimizerOption = Annotated[Optional[Optimizer], typer.Option("--optimizer", help="Training optimizer: sgd (no state), momentum (1 buffer), adam (2); implies --training; default sgd.", show_default=False)]
MixedPrecision = Annotated[bool, typer.Option("--mixed-precision", help="Training in fp16/bf16 with fp32 master weights (implies --training).")]
WeightBits = Annotated[Optional[str], typer.Option("--weight-bits", metavar="BITS,...", help="Also show the parameters' bytes at these widths, e.g. 32,16,8,6,4 (every parameter, biases included, packed).", show_default=False)]
BaselineParams = Annotated[Optional[str], typer.Option("--baseline-params", metavar="SAMPLE|FILE", help="Compare the parameters with this sample (e.g. alexnet) or model file (implies --weight-bits 32,16,8,6,4).", show_default=False)]
ArenaOption = Annotated[bool, typer.Option("--arena", help="Also plan a static activation arena (greedy by size, verified) and show its size next to the peak (docs/arena.md).")]
ArenaInPlace = Annotated[bool, typer.Option("--arena-in-place", help="The arena with in-place reuse, as runtimes do: an element-wise op or a view writes its output over an input it alone reads (implies --arena).")]


def section_inputs(baseline_params: Optional[str]) -> list[str]:
    """The files the sections read (a baseline model or saved report), to check and never write over."""
    return [baseline_params] if baseline_params is not None and os.path.lexists(baseline_params) else []


def sections(report: Report, fmt: str, *, training: bool, batch: Optional[int], optimizer: Optional[Optimizer],
             mixed_precision: bool, weight_bits: Optional[str], baseline_params: Optional[str], arena: bool | str,
             max_file_bytes: int) -> dict[str, object]:
    """The sections asked for, by key of render.report_sections.SECTIONS (empty: none asked, the report unchanged)."""
    from ..render.report_sections import SECTION_FORMATS

    want_sizes = weight_bits is not None or baseline_params is not None
    want_training = training or batch is not None or optimizer is not None or mixed_precision
    if (want_sizes or want_training or arena) and fmt not in SECTION_FORMATS:
        shown = " or -f ".join(SECTION_FORMATS)
        raise InputSpecError(f"--weight-bits, --training and --arena add sections to -f {shown}, not -f {fmt}")
    done: dict[str, object] = {}
    if want_sizes:
        from ..precision_sizes import DEFAULT_WEIGHT_BITS, precision_sizes

        done["sizes"] = precision_sizes(report, weight_bits if weight_bits is not None else DEFAULT_WEIGHT_BITS,
                                        baseline_params, max_file_bytes=max_file_bytes)
    if want_training:
        from ..training import training_memory

        done["training"] = training_memory(report, batch if batch is not None else 32,
                                           optimizer.value if optimizer is not None else "sgd", mixed_precision)
    if arena:
        from ..arena import plan_arena

        done["arena"] = plan_arena(report, in_place=arena == "in-place")
    return done


ReportDims = Annotated[list[str], typer.Option("--dim", "-d", metavar="SYMBOL=N", help="Set a symbolic dimension, e.g. batch=8 (repeatable); SYMBOL=LOW:HIGH leaves it free and gives each figure's min and max. A dimension left free is 1 in the figures, and the report adds each figure as a formula in it (docs/formulas.md).")]
FormulasOption = Annotated[bool, typer.Option("--formulas/--no-formulas", help="With free dimensions, also give every figure as a formula in them (docs/formulas.md); --no-formulas skips that work.")]
