"""Calibration data for a rewrite: which samples calibrate and which validate, and the refit pass over them.

    data ──split──▶ calibration samples ──statistics (original model)──▶ whitened factors ──plan──▶
         whitened rewrite ──refit pass (original outputs, rewritten inputs)──▶ refitted 1x1 convs
    held-out samples ──▶ validation

Data is any object with ``.batches(n)`` (an iterator of {input name: array}, first axis = samples) and
``.count``, such as ``onnxcost.datasets.ArrayDataset``; a path is opened by ``onnxcost.datasets.open_dataset``.
The last samples are held out for validation (``held_out_count``): the factors never saw them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx

from onnxcost.validation import Progress, input_specs

from .errors import RewriteOptionError
from .patches import conv_patches, output_rows
from . import refit_both
from .refit import NormalEquations
from .sites import ConvSite
from .statistics import Probe, batch_samples

MAX_MIDDLE_ELEMENTS = 1 << 25  # a batch's refit inputs above this many elements are added in row chunks (memory)
MAX_HELD_OUT = 16  # validation samples kept out of the calibration at most (a fifth of the data, at least one)


def held_out_count(count: int, batch: int = 1) -> int:
    """Samples held out for validation: a fifth of ``count`` (at least one batch, at most MAX_HELD_OUT rounded to
    batches), none when fewer than two batches of data are given (then the calibration samples validate)."""
    if count < 2 * batch:
        return 0
    wanted = min(max(count // 5, batch), max(MAX_HELD_OUT, batch))
    return wanted - wanted % batch


def model_batch(model: onnx.ModelProto) -> int | None:
    """The batch size the model's first input fixes (its first dim), None when it is symbolic."""
    specs = input_specs(model)
    first = specs[0].dims[0] if specs and specs[0].dims else None
    return first if isinstance(first, int) and first > 0 else None


@dataclass(frozen=True)
class Part:
    """Samples [start, stop) of a dataset, itself a dataset (``names``, ``count``, ``batches``)."""

    data: Any
    start: int
    stop: int

    @property
    def names(self) -> tuple[str, ...]:
        """The input names, as the dataset has them."""
        return tuple(self.data.names)

    @property
    def count(self) -> int:
        """The number of samples in the part."""
        return self.stop - self.start

    def batches(self, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        """The part's samples in batches of ``batch_size`` (the last one may be shorter)."""
        return _samples(self.data, batch_size, self.start, self.stop)


@dataclass(frozen=True)
class Calibration:
    """``data`` split in two: samples [0, used) calibrate, [used, used + held_out) validate; read in batches of
    ``batch`` samples (the model's fixed batch size, else 1: every conv's input of a batch is held at once)."""

    data: Any
    used: int
    held_out: int
    batch: int

    @classmethod
    def of(cls, data: Any, model: onnx.ModelProto, preprocess=None) -> Calibration:
        """The split of ``data`` for ``model``: a dataset (with ``.batches(n)`` and ``.count``), a mapping of
        arrays or a path, opened by ``onnxcost.datasets.open_dataset`` (``preprocess`` for a folder of images)."""
        from onnxcost.datasets import DatasetError, open_dataset

        if not (hasattr(data, "batches") and hasattr(data, "count")):
            try:
                data = open_dataset(data, model, preprocess=preprocess)
            except DatasetError as exc:  # its parameter is the validation inputs'; this is the calibration data
                raise DatasetError(f"calibration: {exc}", parameter="calibration") from None
        batch = model_batch(model) or 1
        count = int(data.count)
        if count < batch:
            raise RewriteOptionError(f"calibration has {count} sample(s), the model takes batches of {batch}",
                                     parameter="calibration")
        held_out = held_out_count(count, batch)
        used = count - held_out
        return cls(data=data, used=used - used % batch, held_out=held_out, batch=batch)

    def batches(self) -> Iterator[dict[str, np.ndarray]]:
        """The calibration samples, in batches."""
        return _samples(self.data, self.batch, 0, self.used)

    def validation(self) -> tuple[Part, str]:
        """The held-out samples (the calibration samples when none are held out) and what they are."""
        if self.held_out:
            return Part(self.data, self.used, self.used + self.held_out), \
                f"{self.held_out} held-out calibration sample(s)"
        return Part(self.data, 0, self.used), f"the {self.used} calibration sample(s) (none held out)"


def _samples(data: Any, batch: int, start: int, stop: int) -> Iterator[dict[str, np.ndarray]]:
    """Samples [start, stop) of ``data`` in batches of ``batch`` (cut from the dataset's own batches)."""
    position = 0
    for part in data.batches(batch):
        size = batch_samples(part)
        lo, hi = max(start - position, 0), min(stop - position, size)
        if lo < hi:
            yield {name: np.asarray(values[lo:hi]) for name, values in part.items()}
        position += size
        if position >= stop:
            return


def refit(original: onnx.ModelProto, rewritten: onnx.ModelProto, structure, sites: Sequence[ConvSite],
          factors: Mapping[str, Any], batches, total: int | None = None,
          progress: Progress | None = None, what: str = "refitting the rewritten layers") -> dict[str, Any]:
    """Each site's factors refitted: least squares of the original model's layer output on what the layer reads,
    computed from the layer's input in ``rewritten``. Both convs where the structure and the rows allow
    (``refit_both``, on the input patches), else the last conv (the 1x1 conv, or the pointwise-first form's
    grouped KxK conv) on what it reads (``structure.middle``, ``refit``)."""
    both = {s.name for s in sites if refit_both.jointly(s, factors[s.name], refit_both.patch_rows(s, total or 0))}
    equations: dict[str, NormalEquations] = {s.name: refit_both.patch_equations(s) for s in sites if s.name in both}
    targets = Probe(original, [s.output.name for s in sites], only=True)
    inputs = Probe(rewritten, [s.input.name for s in sites], only=True)
    seen = 0
    for batch in batches:
        if progress is not None:
            progress(what, seen, max(total or 0, seen + 1))
        y, x = targets.fetch(batch), inputs.fetch(batch)
        for site in sites:
            patches, rows = conv_patches(x[site.input.name], site), output_rows(y[site.output.name])
            if site.name in both:
                flat = patches.reshape(len(patches), -1)
                for chunk in _chunks(len(flat), flat.shape[1]):
                    equations[site.name].add(flat[chunk], rows[chunk])
                continue
            for chunk in _row_chunks(structure, site, factors[site.name], patches):
                z = structure.middle(site, factors[site.name], patches[chunk])
                if site.name not in equations:  # the last conv's input width: known once a middle is computed
                    groups = structure.pointwise_groups(site)
                    equations[site.name] = NormalEquations.empty(z.shape[1], site.cout, groups)
                equations[site.name].add(z, rows[chunk])
        del x, y  # only the normal equations outlive a batch
        seen += batch_samples(batch)
    if progress is not None:
        progress(f"{what}: done", seen, seen)
    return {s.name: refit_both.refit_both(factors[s.name], equations[s.name]) if s.name in both
            else structure.refitted(factors[s.name], *equations[s.name].solve()) for s in sites}


def _row_chunks(structure, site: ConvSite, factors: Any, patches: np.ndarray) -> list[slice]:
    """Row slices of ``patches`` whose refit inputs have at most MAX_MIDDLE_ELEMENTS elements (``_chunks``)."""
    rows = len(patches)
    width = structure.middle(site, factors, patches[:1]).shape[1] if rows else 0
    return _chunks(rows, width)


def _chunks(rows: int, width: int) -> list[slice]:
    """Slices of ``rows`` rows of ``width`` values, at most MAX_MIDDLE_ELEMENTS each (one slice, all the rows, when
    they fit: the sums are then added exactly as one block)."""
    step = max(1, MAX_MIDDLE_ELEMENTS // max(width, 1))
    if rows <= step:
        return [slice(0, rows)]
    return [slice(start, min(start + step, rows)) for start in range(0, rows, step)]
