"""Task-level agreement of a candidate's outputs with the reference's: what a user of the model would see.

Raw errors (relative L2, cosine) do not say whether a classifier still picks the same class, a detector the
same pixels or a recogniser the same string. Per output, by its shape (``choose_task``) or by the user's word:

- ``classify`` (a 2-D [N, classes] output, classes > 1): top-1 agreement, the share of samples whose argmax is
  the same; top-5 agreement, the share whose reference argmax is among the candidate's five highest scores
  (null with 5 classes or fewer, where it is always 1).
- ``mask`` (a dense map, N x 1 x H x W or N x H x W): IoU of the two maps thresholded at ``mask_threshold``
  (value > threshold), intersection and union summed over all samples and pixels (1.0 when both are empty).
- ``sequence`` (N x T x C, e.g. a CTC recogniser): the argmax over C at every step, decoded CTC-style (repeats
  merged, then the ``blank`` index dropped; blank None: repeats merged only), and the share of samples whose
  decoded sequences are exactly equal.

Counts are accumulated batch by batch (``AgreementCounter``): memory does not grow with the samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputSpecError

TASKS = ("auto", "classify", "mask", "sequence", "none")


class TaskError(InputSpecError):
    """A task named for an output does not fit its shape, or the task options are out of range."""


@dataclass(frozen=True)
class AgreementOptions:
    """Which task-level figure each output gets: ``task`` one of TASKS ("auto": by the output's shape, "none":
    no agreement), ``mask_threshold`` for masks, ``blank`` the CTC blank index for sequences (None: none)."""

    task: str = "auto"
    mask_threshold: float = 0.5
    blank: int | None = 0

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise TaskError(f"task must be one of {', '.join(TASKS)}, not {self.task!r}", parameter="task")
        if self.blank is not None and self.blank < 0:
            raise TaskError(f"blank must be a class index >= 0, not {self.blank}", parameter="blank")


def choose_task(shape: tuple[int, ...], task: str = "auto") -> str | None:
    """The task of an output of ``shape`` (the first axis the samples): with "auto", 2-D [N, C>1] is classify,
    4-D [N, 1, H, W] mask and 3-D [N, T, C>1] sequence; otherwise None. A named task must fit the shape."""
    rank = len(shape)
    fits = {
        "classify": rank == 2 and shape[1] > 1,
        "mask": (rank == 4 and shape[1] == 1) or rank == 3,
        "sequence": rank == 3 and shape[2] > 1,
    }
    if task == "none":
        return None
    if task == "auto":
        if fits["classify"]:
            return "classify"
        if rank == 4 and shape[1] == 1:
            return "mask"
        if fits["sequence"]:
            return "sequence"
        return None
    return task if fits[task] else None


def ctc_decode(steps: np.ndarray, blank: int | None = 0) -> tuple[int, ...]:
    """Greedy CTC decoding of one sample's argmax indices over time: repeats merged, then ``blank`` dropped."""
    steps = np.asarray(steps)
    if steps.size == 0:
        return ()
    keep = np.ones(steps.shape[0], dtype=bool)
    keep[1:] = steps[1:] != steps[:-1]
    merged = steps[keep]
    if blank is not None:
        merged = merged[merged != blank]
    return tuple(int(i) for i in merged)


class AgreementCounter:
    """The counts behind one output's task-level agreement, fed batch by batch (reference a, candidate b)."""

    def __init__(self, task: str, options: AgreementOptions = AgreementOptions()):
        self.task = task
        self.options = options
        self.samples = 0
        self.top1 = self.top5 = 0
        self.classes = 0
        self.intersection = self.union = 0
        self.equal_sequences = 0

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        """Count one batch of outputs (same shapes; the first axis the samples)."""
        self.samples += a.shape[0]
        if self.task == "classify":
            self.classes = a.shape[1]
            best_a = np.argmax(a, axis=1)
            self.top1 += int(np.count_nonzero(best_a == np.argmax(b, axis=1)))
            if self.classes > 5:
                top5_b = np.argpartition(-b, 4, axis=1)[:, :5]
                self.top5 += int(np.count_nonzero(np.any(top5_b == best_a[:, None], axis=1)))
        elif self.task == "mask":
            t = self.options.mask_threshold
            mask_a, mask_b = a > t, b > t
            self.intersection += int(np.count_nonzero(mask_a & mask_b))
            self.union += int(np.count_nonzero(mask_a | mask_b))
        elif self.task == "sequence":
            steps_a, steps_b = np.argmax(a, axis=2), np.argmax(b, axis=2)
            blank = self.options.blank
            self.equal_sequences += sum(ctc_decode(x, blank) == ctc_decode(y, blank) for x, y in zip(steps_a, steps_b))

    def result(self) -> dict:
        """The figures as a plain dict, keys in a fixed order per task (docs/validate-schema.md)."""
        n = self.samples
        if self.task == "classify":
            return {"task": "classify", "samples": n, "top1": self.top1 / n if n else None,
                    "top5": self.top5 / n if n and self.classes > 5 else None}
        if self.task == "mask":
            iou = self.intersection / self.union if self.union else 1.0
            return {"task": "mask", "samples": n, "threshold": self.options.mask_threshold, "iou": iou,
                    "intersection": self.intersection, "union": self.union}
        return {"task": "sequence", "samples": n, "blank": self.options.blank,
                "equal": self.equal_sequences, "agreement": self.equal_sequences / n if n else None}
