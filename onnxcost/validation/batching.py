"""How many samples go into one run of a model: its own batch when fixed, else a bounded number."""

from __future__ import annotations

from collections.abc import Mapping

import onnx

from .inputs import InputsError, input_specs

# Samples per run when the model's batch is not fixed: enough to keep onnxruntime busy, few enough that the
# activations of a large model stay small.
DEFAULT_BATCH = 8

# Bytes of batches and the reference's outputs on them held while the candidate is loaded in its place: the two
# models take turns over as many batches as fit, so only one model's session is ever in memory (a session holds
# about its model's weights, often far more than a batch of outputs).
HELD_BYTES = 256 * 1024**2


def fixed_batch(model: onnx.ModelProto) -> int | None:
    """The model's batch when its first input's first axis is a fixed number, else None."""
    specs = input_specs(model)
    if specs and specs[0].dims and isinstance(specs[0].dims[0], int) and specs[0].dims[0] > 0:
        return specs[0].dims[0]
    return None


def batch_size_for(model: onnx.ModelProto, count: int, batch_size: int | None = None,
                   dims: Mapping[str, int] | None = None) -> tuple[int, list[str]]:
    """(samples per run, warnings): the model's batch when fixed (a batch-1 model gets one sample at a time),
    else ``batch_size``, the value ``dims`` gives the batch symbol, or DEFAULT_BATCH, never more than ``count``.
    With a fixed batch, samples past the last full batch are left out (a warning says how many)."""
    fixed = fixed_batch(model)
    if fixed is not None:
        if batch_size is not None and batch_size != fixed:
            raise InputsError(f"batch_size {batch_size}: the model's batch is fixed at {fixed}", parameter="batch_size")
        if count < fixed:
            raise InputsError(f"{count} sample(s): the model's batch is fixed at {fixed}", parameter="feeds")
        left = count % fixed
        return fixed, ([f"{left} sample(s) left out: the model's batch is fixed at {fixed}"] if left else [])
    if batch_size is not None:
        if batch_size < 1:
            raise InputsError(f"batch_size must be at least 1, not {batch_size}", parameter="batch_size")
        return min(batch_size, count), []
    specs = input_specs(model)
    symbol = specs[0].dims[0] if specs and specs[0].dims else None
    if isinstance(symbol, str) and dims and symbol in dims:
        return max(1, min(int(dims[symbol]), count)), []
    return min(DEFAULT_BATCH, count), []
