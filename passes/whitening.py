"""Activation-aware factors: the SVD of each block of W whitened by its input's second moments (pure numpy).

A block A of the conv (a channel's matrix M_c for the separable form, a block B_pq for the grouped form) acts
on an input patch p with second moments S = E[p pᵀ]. What the data sees of an approximation Â is
E‖(A − Â) p‖² = ‖(A − Â) L‖_F² with S = L Lᵀ (Cholesky). So the best rank-r Â for the data is
Â = SVD_r(A L) L⁻¹ (Eckart–Young on A L): left factor U_r S_r, right factor V_rᵀ L⁻¹. Its expected squared
output error is the sum of the discarded squared singular values of A L, the same rule as the weight-only
SVD (``blockwise_svd``) with the output in place of the weights; the blocks' errors add up under the
structure's own assumption that they are independent (the per-channel form ignores the correlation between
channels; the least-squares refit, ``refit``, uses it).

A rank-deficient S (a dead channel, data in a subspace) gets a ridge: S + λ·(tr S / n)·I, λ = ``RIDGE``. The
ridge also means the factors minimise E‖(A − Â) p‖² + λ·tr(S)/n·‖A − Â‖²: where the data says nothing, the
weights decide. A block whose input is all zeros falls back to the weight-only SVD.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .block_factorize import BlockSVD, block_matrices, compose_grouped
from .factorize import ChannelSVD, channel_matrices, compose_separable

RIDGE = 1e-4  # relative to the mean eigenvalue of S: error at most ~1e-4 of the weight-only scale, L⁻¹ bounded


def whitening_factor(moments: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """L with L Lᵀ = S + ridge·(tr S / n)·I for every S of ``moments`` (..., n, n); identity for S = 0."""
    moments = np.asarray(moments, dtype=np.float64)
    n = moments.shape[-1]
    scale = np.trace(moments, axis1=-2, axis2=-1) / n
    scale = np.where(scale > 0, scale, 1.0)
    zero = np.trace(moments, axis1=-2, axis2=-1) <= 0
    eye = np.eye(n)
    regular = np.where(zero[..., None, None], eye, moments + (ridge * scale)[..., None, None] * eye)
    return np.linalg.cholesky(regular)


def whitened_svd(blocks: np.ndarray, moments: np.ndarray, dtype: np.dtype,
                 ridge: float = RIDGE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u, s, vt) such that u·diag(s)·vt truncated to r is the best rank-r approximation of each block for its
    data: s are the singular values of A·L (s² sums are expected squared output errors), vt = V_rᵀ L⁻¹ with
    rows scaled to unit norm and u scaled to match (so both factors keep weight-like magnitudes in float32).

    ``blocks`` (..., rows, cols); ``moments`` (..., cols, cols), broadcast against the blocks' leading axes.
    """
    a = np.asarray(blocks, dtype=np.float64)
    lower = whitening_factor(moments, ridge)
    u, s, vt = np.linalg.svd(a @ lower, full_matrices=False)
    # V_rᵀ L⁻¹ = (L⁻ᵀ V_r)ᵀ: a triangular solve, not an inverse.
    right = np.swapaxes(np.linalg.solve(np.swapaxes(np.broadcast_to(lower, a.shape[:-2] + lower.shape[-2:]), -1, -2),
                                        np.swapaxes(vt, -1, -2)), -1, -2)
    norms = np.linalg.norm(right, axis=-1)
    norms = np.where(norms > 0, norms, 1.0)
    keep = np.promote_types(dtype, np.float32)
    return (u * norms[..., None, :]).astype(keep), s, (right / norms[..., None]).astype(keep)


class ActivationAware:
    """What a calibrated decomposition adds to a weight-only one: its errors are expected squared output errors
    on the calibration data (``squared_error``, ``squared_norm`` = E‖W p‖² summed over blocks), and the weight
    error of its factors is computed from the weights (``weight_relative_error``)."""

    weight: np.ndarray
    samples: int

    def compose(self, rank: int) -> np.ndarray:  # pragma: no cover - each subclass composes its own factors
        raise NotImplementedError

    def weight_relative_error(self, rank: int) -> float:
        """‖W − Ŵ_r‖ / ‖W‖ of the calibrated factors at ``rank`` (0 for zero weights)."""
        w = self.weight.astype(np.float64)
        norm = np.linalg.norm(w)
        return float(np.linalg.norm(w - self.compose(rank)) / norm) if norm > 0 else 0.0


@dataclass(frozen=True)
class CalibratedChannelSVD(ActivationAware, ChannelSVD):
    """The separable form's factors whitened per input channel by that channel's patch moments (K x K)."""

    weight: np.ndarray
    samples: int

    def compose(self, rank: int) -> np.ndarray:
        """Ŵ at ``rank``: the dense weights the calibrated separable pair computes."""
        return compose_separable(self.factors(rank))


@dataclass(frozen=True)
class CalibratedBlockSVD(ActivationAware, BlockSVD):
    """The grouped form's factors, block (p, q) whitened by input group q's patch moments ((b·K) x (b·K))."""

    weight: np.ndarray
    samples: int

    def compose(self, rank: int) -> np.ndarray:
        """Ŵ at ``rank``: the dense weights the calibrated grouped form computes."""
        return compose_grouped(self.factors(rank))


def calibrated_channel_svd(weight: np.ndarray, group: int, moments: np.ndarray, samples: int,
                           ridge: float = RIDGE) -> CalibratedChannelSVD:
    """Per input channel c, the SVD of M_c·L_c with L_c L_cᵀ = ``moments[c]`` (Cin, K, K)."""
    weight = np.asarray(weight)
    u, s, vt = whitened_svd(channel_matrices(weight.astype(np.float64), group), moments, weight.dtype, ridge)
    return CalibratedChannelSVD(u=u, s=s, vt=vt, kernel=tuple(weight.shape[2:]), dtype=weight.dtype, group=group,
                                weight=weight, samples=samples)


def calibrated_block_svd(weight: np.ndarray, groups: int, moments: np.ndarray, samples: int,
                         ridge: float = RIDGE) -> CalibratedBlockSVD:
    """Per block (p, q), the SVD of B_pq·L_q with L_q L_qᵀ = ``moments[q]`` (G, b·K, b·K)."""
    weight = np.asarray(weight)
    blocks = block_matrices(weight.astype(np.float64), groups)  # (G_p, G_q, a, b·K)
    u, s, vt = whitened_svd(blocks, np.asarray(moments)[None], weight.dtype, ridge)
    return CalibratedBlockSVD(u=u, s=s, vt=vt, kernel=tuple(weight.shape[2:]), dtype=weight.dtype, groups=groups,
                              weight=weight, samples=samples)
