"""Folding per-channel affine ops that follow a conv into its weights (pure numpy).

A conv y = W*x + b followed by y' = a·y + c with a, c per output channel is the
conv W' = a·W, b' = a·b + c. BatchNormalization in inference is such an op:
a = scale / sqrt(var + eps), c = B - a·mean. Folding first lets a rewrite see
the weights that really act, so the error it reports is the error it makes.

Sums are done in float64 and the result cast back to the weights' dtype.
"""

from __future__ import annotations

import numpy as np


def fold_affine(weight: np.ndarray, bias: np.ndarray | None, scale: np.ndarray | None,
                shift: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """(W, b) of conv-then-(y·scale + shift); ``scale``/``shift`` are per output channel (Cout,) or None.

    The bias stays None when there was none and nothing adds one.
    """
    cout = weight.shape[0]
    w = weight.astype(np.float64)
    b = None if bias is None else bias.astype(np.float64)
    if scale is not None:
        a = _per_channel(scale, cout, "scale")
        w = w * a.reshape(cout, *([1] * (weight.ndim - 1)))
        b = None if b is None else b * a
    if shift is not None:
        c = _per_channel(shift, cout, "shift")
        b = c if b is None else b + c
    return w.astype(weight.dtype), None if b is None else b.astype(weight.dtype)


def batchnorm_affine(scale: np.ndarray, offset: np.ndarray, mean: np.ndarray, var: np.ndarray,
                     epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """BatchNormalization (inference) as y·a + c: a = scale / sqrt(var + eps), c = offset - a·mean."""
    a = np.asarray(scale, np.float64) / np.sqrt(np.asarray(var, np.float64) + np.float64(epsilon))
    c = np.asarray(offset, np.float64) - a * np.asarray(mean, np.float64)
    return a, c


def per_channel_vector(value: np.ndarray, cout: int, output_rank: int) -> np.ndarray | None:
    """The (Cout,) vector a constant broadcast against an [N, Cout, *spatial] output amounts to, or None.

    It qualifies when, right-aligned to the output's rank, every dim but the channel dim is 1 and the
    channel dim is 1 or Cout (a scalar qualifies: the same value for every channel).
    """
    value = np.asarray(value)
    if value.ndim > output_rank:
        return None
    shape = (1,) * (output_rank - value.ndim) + value.shape
    if any(d != 1 for i, d in enumerate(shape) if i != 1) or shape[1] not in (1, cout):
        return None
    return np.broadcast_to(value.reshape(-1), (cout,)).astype(np.float64)


def _per_channel(value: np.ndarray, cout: int, what: str) -> np.ndarray:
    vector = np.asarray(value, np.float64).reshape(-1)
    if vector.size == 1:
        return np.full(cout, vector[0])
    if vector.size != cout:
        raise ValueError(f"{what} has {vector.size} values for {cout} output channels")
    return vector
