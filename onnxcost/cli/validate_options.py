"""The options of task-level agreement (``--task``, ``--mask-threshold``, ``--blank``, ``--yardstick``) and their parsing."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from ..errors import InputSpecError


class YardstickKind(str, Enum):
    int8 = "int8"
    fp16 = "fp16"


class Task(str, Enum):
    auto = "auto"
    classify = "classify"
    mask = "mask"
    sequence = "sequence"
    none = "none"


TaskOption = Annotated[Task, typer.Option(
    "--task", help="Task-level agreement per output: classify (top-1/top-5 of [N, C]), mask (IoU of N x 1 x H x W or "
                   "N x H x W maps), sequence (CTC-decoded argmax of N x T x C), auto (by shape), none.")]
MaskThreshold = Annotated[float, typer.Option(
    "--mask-threshold", metavar="T", help="A mask pixel is on when its value > T (IoU of the thresholded maps).")]
Blank = Annotated[str, typer.Option(
    "--blank", metavar="INDEX|none", help="The CTC blank class dropped from decoded sequences (none: only repeats merged).")]
YardstickOption = Annotated[Optional[YardstickKind], typer.Option(
    "--yardstick", help="Also run A against itself with its weights rounded to int8 (per output channel) or fp16, on "
                        "the same inputs, and print those figures under B's: what a standard weight rounding changes, "
                        "to read B's against.")]


def make_agreement(task: Task, mask_threshold: float, blank: str):
    """The library's AgreementOptions from the flags' values."""
    from ..validation.agreement import AgreementOptions

    if blank.lower() == "none":
        index = None
    else:
        try:
            index = int(blank)
        except ValueError:
            raise InputSpecError(f"--blank must be a class index or 'none', not {blank!r}") from None
    return AgreementOptions(task.value, mask_threshold, index)
