"""Per-input-channel SVD of a convolution's weights: the numerics of the separable rewrite (pure numpy).

A Conv with weights W[Cout, Cin/g, *k] and g groups sends input channel c
(group c // (Cin/g), local index c % (Cin/g)) to the Cout/g output channels of
its group only. For each input channel the matrix

    M_c = W[group outputs, c % (Cin/g), :]        shape (Cout/g) x K,  K = prod(k)

says how a KxK patch of channel c reaches those outputs. With the SVD
M_c = U_c S_c V_c^T, the conv equals a depthwise conv whose filters are the rows
of V_c^T (depth multiplier r, group = Cin) followed by a 1x1 conv whose weights
are U_c S_c (group = g). Keeping the r largest singular values of every channel
is the best approximation of W with depth multiplier r in Frobenius norm
(Eckart-Young, applied to each channel's block independently), and the squared
error is the sum of the discarded squared singular values.

Nothing here knows about ONNX: arrays in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def channel_matrices(weight: np.ndarray, group: int) -> np.ndarray:
    """M[c] = the (Cout/g) x K matrix of input channel c, for c = 0..Cin-1."""
    weight = np.asarray(weight)
    cout, cin_per_group = weight.shape[:2]
    if weight.ndim < 3:
        raise ValueError(f"conv weights need at least one spatial dim, got shape {weight.shape}")
    if group < 1 or cout % group:
        raise ValueError(f"Cout={cout} is not divisible by group={group}")
    k = int(np.prod(weight.shape[2:]))
    blocks = weight.reshape(group, cout // group, cin_per_group, k)
    return blocks.transpose(0, 2, 1, 3).reshape(group * cin_per_group, cout // group, k)


def numerical_rank(singular_values: np.ndarray, shape: tuple[int, int], dtype: np.dtype) -> int:
    """Largest per-channel rank at the rounding level of ``dtype`` (numpy.linalg.matrix_rank's tolerance).

    ``singular_values`` is (channels, q), each row sorted in descending order.
    """
    eps = np.finfo(dtype if np.issubdtype(np.dtype(dtype), np.floating) else np.float32).eps
    tol = singular_values[:, :1] * max(shape) * eps
    ranks = (singular_values > tol).sum(axis=1)
    return max(int(ranks.max(initial=0)), 1)


def squared_error_by_rank(singular_values: np.ndarray) -> np.ndarray:
    """err[r] = sum over channels of the squared singular values beyond the r-th, for r = 0..q."""
    energy = (np.asarray(singular_values, dtype=np.float64) ** 2).sum(axis=0)  # per rank position, over channels
    tail = np.concatenate([np.cumsum(energy[::-1])[::-1], [0.0]])
    return tail


def energy_rank(singular_values: np.ndarray, fraction: float) -> int:
    """Smallest r >= 1 whose kept squared singular values reach ``fraction`` of the total (0 < fraction <= 1)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"energy fraction must be in (0, 1], got {fraction}")
    tail = squared_error_by_rank(singular_values)
    total = tail[0]
    if total == 0:
        return 1
    kept = total - tail[1:]  # kept[r-1] for r = 1..q
    # A relative slack of a few ulps so that fraction=1 reaches full rank despite rounding in the sums.
    reached = np.nonzero(kept >= fraction * total * (1 - 1e-12))[0]
    return int(reached[0]) + 1


@dataclass(frozen=True)
class ChannelSVD:
    """The per-input-channel SVD of conv weights W[Cout, Cin/g, *k] with ``group`` groups."""

    u: np.ndarray  # (Cin, Cout/g, q)
    s: np.ndarray  # (Cin, q), descending
    vt: np.ndarray  # (Cin, q, K)
    kernel: tuple[int, ...]
    group: int
    dtype: np.dtype

    @property
    def max_rank(self) -> int:
        return self.s.shape[1]

    @property
    def exact_rank(self) -> int:
        """The depth multiplier that reproduces W up to the rounding of its dtype."""
        return numerical_rank(self.s, (self.u.shape[1], self.vt.shape[2]), self.dtype)

    @property
    def squared_norm(self) -> float:
        return float((self.s.astype(np.float64) ** 2).sum())

    def squared_error(self, rank: int) -> float:
        """||W - W_r||_F^2 for the best depth-multiplier-``rank`` approximation W_r."""
        self._check(rank)
        return float(squared_error_by_rank(self.s)[rank])

    def factors(self, rank: int) -> SeparableFactors:
        """Depthwise filters and pointwise weights keeping ``rank`` singular vectors per input channel."""
        self._check(rank)
        cin, cout_per_group, _ = self.u.shape
        group = self.group
        cin_per_group = cin // group
        depthwise = self.vt[:, :rank, :].reshape(cin * rank, 1, *self.kernel)
        scaled = self.u[:, :, :rank] * self.s[:, None, :rank].astype(self.u.dtype)  # (Cin, Cout/g, r)
        pointwise = (scaled.reshape(group, cin_per_group, cout_per_group, rank)
                     .transpose(0, 2, 1, 3)
                     .reshape(group * cout_per_group, cin_per_group * rank))
        return SeparableFactors(depthwise=depthwise.astype(self.dtype), pointwise=pointwise.astype(self.dtype),
                                rank=rank, group=group)

    def _check(self, rank: int) -> None:
        if not 1 <= rank <= self.max_rank:
            raise ValueError(f"rank must be in 1..{self.max_rank}, got {rank}")


@dataclass(frozen=True)
class SeparableFactors:
    """depthwise: (Cin·r, 1, *k), output channel c·r + t filters input channel c.
    pointwise: (Cout, Cin/g·r), the weights of a 1x1 conv with ``group`` groups reading those channels."""

    depthwise: np.ndarray
    pointwise: np.ndarray
    rank: int
    group: int

    def concat_order(self) -> SeparableFactors:
        """The same factors for r multiplier-1 depthwise convs joined by a Concat (only for group 1).

        Depthwise conv t produces channels t·Cin + c; the pointwise columns are permuted to match.
        The result's ``depthwise`` is (r, Cin, 1, *k): the filters of conv t are ``depthwise[t]``.
        """
        if self.group != 1:
            raise ValueError("the Concat emission needs a dense (group 1) pointwise conv")
        r = self.rank
        cin = self.depthwise.shape[0] // r
        kernel = self.depthwise.shape[2:]
        depthwise = self.depthwise.reshape(cin, r, 1, *kernel).transpose(1, 0, 2, *range(3, 3 + len(kernel)))
        cout = self.pointwise.shape[0]
        pointwise = self.pointwise.reshape(cout, cin, r).transpose(0, 2, 1).reshape(cout, r * cin)
        return SeparableFactors(depthwise=np.ascontiguousarray(depthwise), pointwise=np.ascontiguousarray(pointwise),
                                rank=r, group=1)


def channel_svd(weight: np.ndarray, group: int = 1) -> ChannelSVD:
    """SVD of every input channel's matrix, computed in float64 whatever the weights' dtype."""
    weight = np.asarray(weight)
    matrices = channel_matrices(weight.astype(np.float64), group)
    u, s, vt = np.linalg.svd(matrices, full_matrices=False)
    # The singular vectors are kept at the weights' precision (at least float32): the factors are cast to it
    # anyway, and a wide layer's U is Cin·Cout·q numbers. The singular values, which the errors come from,
    # stay float64.
    keep = np.promote_types(weight.dtype, np.float32)
    return ChannelSVD(u=u.astype(keep), s=s, vt=vt.astype(keep), kernel=tuple(weight.shape[2:]), group=group,
                      dtype=weight.dtype)


def compose_separable(factors: SeparableFactors) -> np.ndarray:
    """The dense weights W[Cout, Cin/g, *k] that the depthwise-then-pointwise pair computes (multiplier layout)."""
    r, g = factors.rank, factors.group
    kernel = factors.depthwise.shape[2:]
    cin = factors.depthwise.shape[0] // r
    cout = factors.pointwise.shape[0]
    depthwise = factors.depthwise.reshape(g, cin // g, r, -1)
    pointwise = factors.pointwise.reshape(g, cout // g, cin // g, r)
    dense = np.einsum("gojt,gjtk->gojk", pointwise.astype(np.float64), depthwise.astype(np.float64))
    return dense.reshape(cout, cin // g, *kernel)
