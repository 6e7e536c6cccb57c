"""Per-output-channel SVD of a convolution's weights: the numerics of the pointwise-first separable rewrite
(pure numpy).

A Conv with weights W[Cout, Cin/g, *k] and g groups computes output channel o from the Cin/g input channels
of its group: y_o = <M_o, P>, with

    M_o = W[o]        shape (Cin/g) x K,  K = prod(k)

and P the (Cin/g) x K patch of its group. With the SVD M_o = U_o S_o V_oᵀ,
y_o = sum_t s_t · <v_t, (u_tᵀ P)>: a 1x1 conv (g groups, Cin -> Cout·r; middle channel o·r + t has weights
u_t of output o) followed by a grouped KxK conv (Cout groups of r -> 1; filter t of output o is s_t·v_t)
that carries the original's strides, pads, dilations and bias. The 1x1 conv has no bias, so zero padding
commutes with it: the pair is exact at r = min(Cin/g, K). Keeping the r largest singular values of every
output channel is the best approximation of that structure in Frobenius norm (Eckart-Young per channel).

With calibration data (``calibrated_output_svd``): the error that matters is E‖(M_o − M̂_o)·p‖² with p the
patch of the group as a vector (channel-major, c·K + k) and Σ = E[p pᵀ]. Approximating Σ ≈ C ⊗ S (the channel
covariance C, (Cin/g)², and the spatial one S, K x K: partial traces of Σ), that error is
‖L_Cᵀ (M_o − M̂_o) L_S‖_F² (C = L_C L_Cᵀ, S = L_S L_Sᵀ), so the best rank-r M̂_o for the data is
L_C⁻ᵀ · SVD_r(L_Cᵀ M_o L_S) · L_S⁻¹: the closed form of ``whitening`` with a whitening on each side.

Nothing here knows about ONNX: arrays in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .blockwise_svd import BlockwiseSVD, svd_of_blocks
from .whitening import RIDGE, ActivationAware, whitening_factor

REFINE_STEPS = 4  # alternating steps: measured on PP-OCRv4 det, most of the gain is in the first (docs/rewrite.md)


def output_matrices(weight: np.ndarray) -> np.ndarray:
    """M[o] = the (Cin/g) x K matrix of output channel o, for o = 0..Cout-1."""
    weight = np.asarray(weight)
    if weight.ndim < 3:
        raise ValueError(f"conv weights need at least one spatial dim, got shape {weight.shape}")
    return weight.reshape(weight.shape[0], weight.shape[1], -1)


@dataclass(frozen=True)
class OutputSVD(BlockwiseSVD):
    """The per-output-channel SVD of conv weights W[Cout, Cin/g, *k] with ``group`` groups: one block per output
    channel, u (Cout, Cin/g, q), s (Cout, q), vt (Cout, q, K); a rank is middle channels per output channel."""

    group: int

    def factors(self, rank: int) -> PointwiseFirstFactors:
        """The 1x1 conv's weights and the grouped KxK conv's filters keeping ``rank`` singular vectors per output."""
        self._check(rank)
        cout, cin_per_group, _ = self.u.shape
        pointwise = self.u[:, :, :rank].transpose(0, 2, 1).reshape(cout * rank, cin_per_group)
        spatial = self.vt[:, :rank, :] * self.s[:, :rank, None].astype(self.vt.dtype)
        spatial = spatial.reshape(cout, rank, *self.kernel)
        return PointwiseFirstFactors(pointwise=pointwise.astype(self.dtype), spatial=spatial.astype(self.dtype),
                                     rank=rank, group=self.group)


@dataclass(frozen=True)
class PointwiseFirstFactors:
    """pointwise: (Cout·r, Cin/g), a 1x1 conv with ``group`` groups; its channel o·r + t belongs to output o.
    spatial: (Cout, r, *k), the grouped KxK conv (Cout groups) from those channels to the outputs.
    bias: the KxK conv's bias when refitted (``refit``), else None (the conv's own bias)."""

    pointwise: np.ndarray
    spatial: np.ndarray
    rank: int
    group: int
    bias: np.ndarray | None = None


def output_svd(weight: np.ndarray, group: int = 1) -> OutputSVD:
    """SVD of every output channel's matrix, in float64 whatever the weights' dtype (``svd_of_blocks``)."""
    weight = np.asarray(weight)
    _check_groups(weight, group)
    u, s, vt = svd_of_blocks(output_matrices(weight.astype(np.float64)), weight.dtype)
    return OutputSVD(u=u, s=s, vt=vt, kernel=tuple(weight.shape[2:]), dtype=weight.dtype, group=group)


def compose_pointwise_first(factors: PointwiseFirstFactors) -> np.ndarray:
    """The dense weights W[Cout, Cin/g, *k] that the 1x1-then-grouped-KxK pair computes."""
    cout, r = factors.spatial.shape[:2]
    kernel = factors.spatial.shape[2:]
    left = factors.pointwise.reshape(cout, r, -1).astype(np.float64)  # (Cout, r, Cin/g)
    right = factors.spatial.reshape(cout, r, -1).astype(np.float64)  # (Cout, r, K)
    return np.einsum("otc,otk->ock", left, right).reshape(cout, left.shape[2], *kernel)


def kronecker_moments(moments: np.ndarray, kernel_elements: int) -> tuple[np.ndarray, np.ndarray]:
    """(C, S): per group, the channel (b x b) and spatial (K x K) factors of Σ ≈ C ⊗ S for patch moments
    ``moments`` (g, b·K, b·K), channel-major. C = the mean over taps of the channel covariance, S = the sum over
    channels of the spatial covariance / tr C, so tr(C ⊗ S) = tr Σ."""
    moments = np.asarray(moments, dtype=np.float64)
    g, n, _ = moments.shape
    k = kernel_elements
    blocks = moments.reshape(g, n // k, k, n // k, k)
    channel = np.einsum("gakbk->gab", blocks) / k
    trace = np.trace(channel, axis1=1, axis2=2)
    spatial = np.einsum("gaiaj->gij", blocks) / np.where(trace > 0, trace, 1.0)[:, None, None]
    return channel, spatial


@dataclass(frozen=True)
class CalibratedOutputSVD(ActivationAware, OutputSVD):
    """The pointwise-first factors whitened per output channel by its group's channel and spatial moments
    (``kronecker_moments``); errors are expected squared output errors on the data under that approximation.
    ``factors(rank)`` refines them on the full patch moments (``refine``, ``REFINE_STEPS`` alternating steps)."""

    weight: np.ndarray
    samples: int
    moments: np.ndarray | None = None  # (g, b·K, b·K): the full patch moments the factors are refined on
    steps: int = REFINE_STEPS
    refined: dict = field(default_factory=dict, compare=False, repr=False)  # rank -> refined factors (a cache)

    def factors(self, rank: int) -> PointwiseFirstFactors:
        """The Kronecker-whitened factors at ``rank``, refined on the full moments (computed once per rank; the
        exact rank and a layer without moments are not refined)."""
        closed = super().factors(rank)
        if self.moments is None or self.steps < 1 or rank >= self.max_rank:
            return closed
        if rank not in self.refined:
            self.refined[rank] = refine(self.weight, closed, self.moments, self.steps)
        return self.refined[rank]

    def compose(self, rank: int) -> np.ndarray:
        """Ŵ at ``rank``: the dense weights the calibrated pointwise-first pair computes."""
        return compose_pointwise_first(self.factors(rank))


def calibrated_output_svd(weight: np.ndarray, group: int, moments: np.ndarray, samples: int,
                          ridge: float = RIDGE, refine_steps: int = REFINE_STEPS) -> CalibratedOutputSVD:
    """Per output channel o of group q, the SVD of L_Cᵀ·M_o·L_S with (C, S) the Kronecker factors of group q's
    patch moments (``moments`` (g, (Cin/g)·K, (Cin/g)·K)); u = L_C⁻ᵀ U_r (columns scaled to unit norm),
    vt = V_rᵀ L_S⁻¹ scaled to match, s the singular values of the whitened matrix. ``refine_steps``: 0 keeps the
    closed form, else ``factors(r)`` refines it on the full moments (``refine``)."""
    weight = np.asarray(weight)
    _check_groups(weight, group)
    cout = weight.shape[0]
    k = int(np.prod(weight.shape[2:]))
    channel, spatial = kronecker_moments(moments, k)
    lc = np.repeat(whitening_factor(channel, ridge), cout // group, axis=0)  # (Cout, b, b)
    ls = np.repeat(whitening_factor(spatial, ridge), cout // group, axis=0)  # (Cout, K, K)
    m = output_matrices(weight.astype(np.float64))
    u, s, vt = np.linalg.svd(np.swapaxes(lc, 1, 2) @ m @ ls, full_matrices=False)
    left = np.linalg.solve(np.swapaxes(lc, 1, 2), u)  # L_C⁻ᵀ U
    right = np.swapaxes(np.linalg.solve(np.swapaxes(ls, 1, 2), np.swapaxes(vt, 1, 2)), 1, 2)  # Vᵀ L_S⁻¹
    # Unit-norm 1x1 weights, the scale moved to the KxK filters: weight-like magnitudes in float32.
    norms = np.linalg.norm(left, axis=1)
    norms = np.where(norms > 0, norms, 1.0)
    keep = np.promote_types(weight.dtype, np.float32)
    return CalibratedOutputSVD(u=(left / norms[:, None, :]).astype(keep), s=s,
                               vt=(right * norms[:, :, None]).astype(keep), kernel=tuple(weight.shape[2:]),
                               dtype=weight.dtype, group=group, weight=weight, samples=samples,
                               moments=np.asarray(moments, dtype=np.float64) if refine_steps else None,
                               steps=refine_steps)


def refine(weight: np.ndarray, factors: PointwiseFirstFactors, moments: np.ndarray, steps: int = REFINE_STEPS,
           ridge: float = RIDGE) -> PointwiseFirstFactors:
    """``factors`` improved on the full patch moments Σ (g, b·K, b·K) instead of their Kronecker approximation:
    per output channel o, M̂_o = A Bᵀ (A the 1x1 weights (b, r), B the KxK filters (K, r)) and the expected
    squared output error vec(M_o − A Bᵀ)ᵀ Σ vec(M_o − A Bᵀ) is quadratic in A with B fixed, and in B with A
    fixed: ``steps`` alternating exact minimisations (each never increases the error), from the closed form.
    Σ gets the whitening's ridge (``whitening_factor``), so the solves are regular."""
    weight = np.asarray(weight, dtype=np.float64)
    cout, b = weight.shape[:2]
    k = int(np.prod(weight.shape[2:]))
    r, g = factors.rank, factors.group
    sigma = np.asarray(moments, dtype=np.float64)
    n = sigma.shape[-1]
    scale = np.trace(sigma, axis1=1, axis2=2) / n
    sigma = sigma + (ridge * np.where(scale > 0, scale, 1.0))[:, None, None] * np.eye(n)
    a = factors.pointwise.astype(np.float64).reshape(cout, r, b).transpose(0, 2, 1).copy()  # (Cout, b, r)
    bb = factors.spatial.astype(np.float64).reshape(cout, r, k).transpose(0, 2, 1).copy()  # (Cout, K, r)
    for o in range(cout):
        s4 = sigma[o // (cout // g)].reshape(b, k, b, k)
        v = (s4.reshape(b * k, b * k) @ weight[o].reshape(-1)).reshape(b, k)  # Σ vec(M_o), as (b, K)
        for _ in range(steps):
            # B fixed: G[(c,t),(d,u)] = Σ_kl B[k,t] Σ[(c,k),(d,l)] B[l,u]; rhs[(c,t)] = Σ_k B[k,t] v[c,k].
            gram = np.tensordot(bb[o], np.tensordot(s4, bb[o], axes=([3], [0])), axes=([0], [1]))  # (t, c, d, u)
            gram = gram.transpose(1, 0, 2, 3).reshape(b * r, b * r)
            a[o] = np.linalg.solve(gram, (v @ bb[o]).reshape(-1)).reshape(b, r)
            # A fixed: G[(k,t),(l,u)] = Σ_cd A[c,t] Σ[(c,k),(d,l)] A[d,u]; rhs[(k,t)] = Σ_c A[c,t] v[c,k].
            gram = np.tensordot(a[o], np.tensordot(s4, a[o], axes=([2], [0])), axes=([0], [0]))  # (t, k, l, u)
            gram = gram.transpose(1, 0, 2, 3).reshape(k * r, k * r)
            bb[o] = np.linalg.solve(gram, (v.T @ a[o]).reshape(-1)).reshape(k, r)
    # Unit-norm 1x1 weights, the scale moved to the KxK filters (as the closed form).
    norms = np.linalg.norm(a, axis=1)  # (Cout, r)
    norms = np.where(norms > 0, norms, 1.0)
    dtype = factors.pointwise.dtype
    pointwise = (a / norms[:, None, :]).transpose(0, 2, 1).reshape(cout * r, b)
    spatial = (bb * norms[:, None, :]).transpose(0, 2, 1).reshape(factors.spatial.shape)
    return replace(factors, pointwise=pointwise.astype(dtype), spatial=spatial.astype(dtype))


def _check_groups(weight: np.ndarray, group: int) -> None:
    if group < 1 or weight.shape[0] % group:
        raise ValueError(f"Cout={weight.shape[0]} is not divisible by group={group}")
