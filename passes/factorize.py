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

from .blockwise_svd import BlockwiseSVD, svd_of_blocks


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


@dataclass(frozen=True)
class ChannelSVD(BlockwiseSVD):
    """The per-input-channel SVD of conv weights W[Cout, Cin/g, *k] with ``group`` groups: one block per input
    channel, u (Cin, Cout/g, q), s (Cin, q), vt (Cin, q, K); a rank is a depth multiplier."""

    group: int

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


@dataclass(frozen=True)
class SeparableFactors:
    """depthwise: (Cin·r, 1, *k), output channel c·r + t filters input channel c.
    pointwise: (Cout, Cin/g·r), the weights of a 1x1 conv with ``group`` groups reading those channels.
    bias: the 1x1 conv's bias when refitted (``refit``), else None (the conv's own bias)."""

    depthwise: np.ndarray
    pointwise: np.ndarray
    rank: int
    group: int
    bias: np.ndarray | None = None

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
                                rank=r, group=1, bias=self.bias)


def channel_svd(weight: np.ndarray, group: int = 1) -> ChannelSVD:
    """SVD of every input channel's matrix, computed in float64 whatever the weights' dtype (``svd_of_blocks``)."""
    weight = np.asarray(weight)
    u, s, vt = svd_of_blocks(channel_matrices(weight.astype(np.float64), group), weight.dtype)
    return ChannelSVD(u=u, s=s, vt=vt, kernel=tuple(weight.shape[2:]), dtype=weight.dtype, group=group)


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
