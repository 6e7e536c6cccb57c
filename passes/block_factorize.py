"""Per-block SVD of a convolution's weights: the numerics of the grouped-plus-shuffle rewrite (pure numpy).

A dense Conv W[Cout, Cin, *k] (K = prod(k) kernel elements) is cut into G x G
blocks: output group p (channels p·a .. p·a + a - 1, a = Cout/G) and input
group q (channels q·b .. q·b + b - 1, b = Cin/G). Block (p, q) says how the
b input channels of group q reach the a outputs of group p:

    B[p, q] = W[p-block, q-block, :]  reshaped  a x (b·K)

The structure "grouped KxK conv (G groups, Cin -> M) -> channel shuffle (G
groups) -> grouped 1x1 conv (G groups, M -> Cout)" gives every middle channel
one input group (the KxK conv's group) and one output group (the 1x1 conv's
group, after the shuffle). The middle channels joining q to p compute a
rank-r product U_pq·V_pq with U_pq: a x r (1x1 weights) and V_pq: r x (b·K)
(KxK filters). So the structure is exactly "every block of W has rank <= r",
the blocks are independent, and the best approximation in Frobenius norm is
the truncated SVD of each block (Eckart-Young per block): the squared error is
the sum over all G² blocks of their discarded squared singular values. With
M = G·G·r middle channels, r = min(a, b·K) reproduces W.

Channel order (checked numerically against the dense conv in the tests):

- KxK conv, group q, local output j = p·r + t (t < r): filter V_pq[t]
  (the t-th right singular vector of block (p, q)); middle channel
  m = q·(G·r) + p·r + t.
- The exporters' shuffle, Reshape [N, G, M/G, *S] -> Transpose [0, 2, 1, ...]
  -> Reshape [N, M, *S], sends channel q·(M/G) + j to j·G + q, so middle
  channel m lands at (p·r + t)·G + q = p·(G·r) + t·G + q.
- 1x1 conv, group p, local input t·G + q: weights U_pq[:, t]·s_pq[t].

With G = 1 there is one block, the shuffle is the identity, and the structure
is the plain low-rank pair: a KxK conv Cin -> r, then a 1x1 conv r -> Cout
(the SVD of W reshaped Cout x (Cin·K)).

Nothing here knows about ONNX: arrays in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .blockwise_svd import BlockwiseSVD, svd_of_blocks


def block_matrices(weight: np.ndarray, groups: int) -> np.ndarray:
    """B[p, q] = the (Cout/G) x (Cin/G·K) block of output group p and input group q; shape (G, G, a, b·K)."""
    weight = np.asarray(weight)
    if weight.ndim < 3:
        raise ValueError(f"conv weights need at least one spatial dim, got shape {weight.shape}")
    cout, cin = weight.shape[:2]
    if groups < 1 or cout % groups or cin % groups:
        raise ValueError(f"G={groups} must divide Cout={cout} and Cin={cin}")
    k = int(np.prod(weight.shape[2:]))
    a, b = cout // groups, cin // groups
    return (weight.reshape(groups, a, groups, b, k)
            .transpose(0, 2, 1, 3, 4)
            .reshape(groups, groups, a, b * k))


@dataclass(frozen=True)
class BlockSVD(BlockwiseSVD):
    """The SVD of every (output group, input group) block of dense conv weights W[Cout, Cin, *k]:
    u (G, G, a, q), s (G, G, q), vt (G, G, q, b·K); a rank is a rank per block."""

    groups: int

    def factors(self, rank: int) -> GroupedFactors:
        """The KxK and 1x1 weights keeping ``rank`` singular vectors per block, in the shuffle's channel order."""
        self._check(rank)
        g, r = self.groups, rank
        _, _, a, bk = self.u.shape[0], self.u.shape[1], self.u.shape[2], self.vt.shape[3]
        b = bk // int(np.prod(self.kernel))
        # spatial[q, p, t] = V_pq[t]: group q's local output p·r + t, i.e. middle channel q·(G·r) + p·r + t.
        spatial = self.vt[:, :, :r, :].transpose(1, 0, 2, 3).reshape(g * g * r, b, *self.kernel)
        # pointwise[p, o, t, q] = U_pq[o, t]·s_pq[t]: output p·a + o reads local input t·G + q of group p.
        scaled = self.u[:, :, :, :r] * self.s[:, :, None, :r].astype(self.u.dtype)  # (G_p, G_q, a, r)
        pointwise = scaled.transpose(0, 2, 3, 1).reshape(g * a, r * g)
        return GroupedFactors(spatial=spatial.astype(self.dtype), pointwise=pointwise.astype(self.dtype),
                              rank=r, groups=g)


@dataclass(frozen=True)
class GroupedFactors:
    """spatial: (M, Cin/G, *k), M = G·G·r, the grouped KxK conv's filters (middle channel q·(G·r) + p·r + t).
    pointwise: (Cout, M/G), the grouped 1x1 conv's weights after the exporters' shuffle of G groups
    (output p·a + o, local input t·G + q).
    bias: the 1x1 conv's bias when refitted (``refit``), else None (the conv's own bias)."""

    spatial: np.ndarray
    pointwise: np.ndarray
    rank: int
    groups: int
    bias: np.ndarray | None = None

    @property
    def middle(self) -> int:
        """M, the number of middle channels between the two convs."""
        return self.spatial.shape[0]

    def concat_order(self) -> GroupedFactors:
        """The same function without a shuffle: G grouped KxK convs joined by a Concat.

        KxK conv p (G groups, Cin -> G·r) computes output group p's middle channels: its group q's
        local output q·r + t is V_pq[t]. Concatenated over p, channel p·(G·r) + q·r + t is already where
        1x1 group p reads it (local input q·r + t). The result's ``spatial`` is (G, G·r, Cin/G, *k): the
        filters of conv p are ``spatial[p]``; its ``pointwise`` has columns in q·r + t order.
        """
        g, r = self.groups, self.rank
        kernel = self.spatial.shape[2:]
        b = self.spatial.shape[1]
        spatial = (self.spatial.reshape(g, g, r, b, *kernel)  # [q, p, t]
                   .transpose(1, 0, 2, *range(3, 4 + len(kernel)))  # [p, q, t]
                   .reshape(g, g * r, b, *kernel))
        cout = self.pointwise.shape[0]
        pointwise = self.pointwise.reshape(cout, r, g).transpose(0, 2, 1).reshape(cout, g * r)  # t·G + q -> q·r + t
        return GroupedFactors(spatial=np.ascontiguousarray(spatial), pointwise=np.ascontiguousarray(pointwise),
                              rank=r, groups=g, bias=self.bias)


def block_svd(weight: np.ndarray, groups: int) -> BlockSVD:
    """SVD of every block, computed in float64 whatever the weights' dtype (``svd_of_blocks``)."""
    weight = np.asarray(weight)
    u, s, vt = svd_of_blocks(block_matrices(weight.astype(np.float64), groups), weight.dtype)
    return BlockSVD(u=u, s=s, vt=vt, kernel=tuple(weight.shape[2:]), dtype=weight.dtype, groups=groups)


def channel_shuffle_permutation(channels: int, groups: int) -> np.ndarray:
    """perm[j] = the input channel that the exporters' shuffle (G groups) puts at output channel j."""
    if channels % groups:
        raise ValueError(f"G={groups} must divide {channels} channels")
    return np.arange(channels).reshape(groups, channels // groups).T.reshape(-1)


def compose_grouped(factors: GroupedFactors) -> np.ndarray:
    """The dense weights W[Cout, Cin, *k] that grouped KxK conv -> shuffle -> grouped 1x1 conv computes.

    Follows the channels as the graph does: middle channel m comes from KxK group m // (M/G); the shuffle
    moves it to position perm⁻¹[m]; the 1x1 conv's group of that position reads it.
    """
    g = factors.groups
    spatial = factors.spatial.astype(np.float64)
    m, b = spatial.shape[:2]
    kernel = spatial.shape[2:]
    cout = factors.pointwise.shape[0]
    a = cout // g
    perm = channel_shuffle_permutation(m, g)
    dense = np.zeros((cout, g * b, int(np.prod(kernel))))
    flat = spatial.reshape(m, b, -1)
    for position, source in enumerate(perm):
        q = source // (m // g)  # the KxK group that produced it
        p, local = divmod(position, m // g)  # the 1x1 group that reads it, and where
        column = factors.pointwise[p * a:(p + 1) * a, local].astype(np.float64)
        dense[p * a:(p + 1) * a, q * b:(q + 1) * b, :] += column[:, None, None] * flat[source][None]
    return dense.reshape(cout, g * b, *kernel)
