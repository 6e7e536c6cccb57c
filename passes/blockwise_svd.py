"""Independent blocks of conv weights, each truncated by its own SVD: what follows from the singular values alone
(pure numpy).

Both factorizations cut W into independent matrices (one per input channel for the separable form, one per
(output group, input group) pair for the grouped form) and keep the r largest singular values of each. By
Eckart-Young per block, that is the best approximation with rank r in every block, and its squared error is
the sum over blocks of the discarded squared singular values. The rank, norm and error rules are therefore
the same for both; only the block layout and the factors differ (``factorize``, ``block_factorize``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def numerical_rank(singular_values: np.ndarray, shape: tuple[int, int], dtype: np.dtype) -> int:
    """Largest per-block rank at the rounding level of ``dtype`` (numpy.linalg.matrix_rank's tolerance).

    ``singular_values`` is (blocks, q), each row sorted in descending order; ``shape`` is a block's (rows, cols).
    """
    eps = np.finfo(dtype if np.issubdtype(np.dtype(dtype), np.floating) else np.float32).eps
    tol = singular_values[:, :1] * max(shape) * eps
    ranks = (singular_values > tol).sum(axis=1)
    return max(int(ranks.max(initial=0)), 1)


def squared_error_by_rank(singular_values: np.ndarray) -> np.ndarray:
    """err[r] = sum over blocks of the squared singular values beyond the r-th, for r = 0..q.

    ``singular_values`` is (blocks, q); err[0] is ||W||², err[q] is 0.
    """
    energy = (np.asarray(singular_values, dtype=np.float64) ** 2).sum(axis=0)  # per rank position, over blocks
    return np.concatenate([np.cumsum(energy[::-1])[::-1], [0.0]])


def svd_of_blocks(matrices: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u, s, vt) of every matrix of ``matrices`` (..., rows, cols), computed in float64 whatever the weights'
    ``dtype``; ``s`` stays float64, the singular vectors are kept at the weights' precision (at least float32)."""
    u, s, vt = np.linalg.svd(np.asarray(matrices, dtype=np.float64), full_matrices=False)
    # The factors are cast to the weights' dtype anyway, and a wide layer's U is Cin·Cout·q numbers; the singular
    # values, which the errors come from, keep their precision.
    keep = np.promote_types(dtype, np.float32)
    return u.astype(keep), s, vt.astype(keep)


@dataclass(frozen=True)
class BlockwiseSVD:
    """The SVDs of independent blocks of conv weights: u (..., rows, q), s (..., q) descending per block,
    vt (..., q, cols), the leading axes indexing the blocks. ``kernel`` is the conv's kernel shape and
    ``dtype`` that of its weights (the factors are cast back to it)."""

    u: np.ndarray
    s: np.ndarray
    vt: np.ndarray
    kernel: tuple[int, ...]
    dtype: np.dtype

    @property
    def singular_values(self) -> np.ndarray:
        """(blocks, q): one row of descending singular values per block, float64."""
        return self.s.reshape(-1, self.s.shape[-1])

    @property
    def max_rank(self) -> int:
        """The full rank of a block: min(rows, cols)."""
        return self.s.shape[-1]

    @property
    def exact_rank(self) -> int:
        """The rank per block that reproduces W up to the rounding of its dtype (the largest over blocks)."""
        return numerical_rank(self.singular_values, (self.u.shape[-2], self.vt.shape[-1]), self.dtype)

    @property
    def squared_norm(self) -> float:
        """||W||_F², the sum of every squared singular value."""
        return float((self.s.astype(np.float64) ** 2).sum())

    def squared_error(self, rank: int) -> float:
        """||W - W_r||_F² for the best approximation W_r with rank ``rank`` in every block."""
        self._check(rank)
        return float(squared_error_by_rank(self.singular_values)[rank])

    def _check(self, rank: int) -> None:
        if not 1 <= rank <= self.max_rank:
            raise ValueError(f"rank must be in 1..{self.max_rank}, got {rank}")
