"""The second factor refitted by least squares (asymmetric reconstruction, Zhang et al., TPAMI 2016; pure numpy).

With the first factor fixed (the depthwise or grouped KxK filters), the replacement's output is a 1x1 conv of
the middle tensor z: y ≈ P·z + b, an ordinary linear regression per output position. Its inputs z are computed
from the layer's input in the *rewritten* model (the earlier layers already rewritten, so this layer learns to
absorb their errors), its targets y are the *original* model's output of the layer. The normal equations
need only Zᵀ Z and Zᵀ Y (with a constant 1 in z for the bias), so the memory does not grow with the samples.
A grouped 1x1 conv (g groups) is g independent regressions, one per block of outputs on its block of z.

The solution is ridge-regularised (``RIDGE`` times the mean diagonal of ZᵀZ) so a middle channel that is
constant or zero on the data cannot make it singular.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RIDGE = 1e-6  # relative to the mean of ZᵀZ's diagonal: only there to keep the equations solvable


@dataclass
class NormalEquations:
    """Σ z zᵀ and Σ z yᵀ per group of a grouped 1x1 conv, z with a trailing 1 (the bias): ``zz`` (g, m+1, m+1),
    ``zy`` (g, m+1, a), m middle channels and a outputs per group; ``yy`` (g·a,) Σ y² per output (what a fit's
    residual is measured from); ``rows`` output positions added."""

    zz: np.ndarray
    zy: np.ndarray
    yy: np.ndarray
    rows: int = 0

    @classmethod
    def empty(cls, middle: int, outputs: int, groups: int) -> NormalEquations:
        """Zero sums for a 1x1 conv of ``groups`` groups, ``middle`` -> ``outputs`` channels."""
        m, a = middle // groups, outputs // groups
        return cls(zz=np.zeros((groups, m + 1, m + 1)), zy=np.zeros((groups, m + 1, a)), yy=np.zeros(outputs))

    def add(self, z: np.ndarray, y: np.ndarray) -> None:
        """Adds rows: ``z`` (rows, middle) in the 1x1 conv's input order, ``y`` (rows, outputs) its targets."""
        g = self.zz.shape[0]
        rows = len(z)
        z = np.asarray(z, dtype=np.float64).reshape(rows, g, -1)
        z = np.concatenate([z, np.ones((rows, g, 1))], axis=2).transpose(1, 0, 2)  # (g, rows, m+1)
        y = np.asarray(y, dtype=np.float64)
        self.yy += np.einsum("ro,ro->o", y, y)
        y = y.reshape(rows, g, -1).transpose(1, 0, 2)
        self.zz += np.swapaxes(z, 1, 2) @ z
        self.zy += np.swapaxes(z, 1, 2) @ y
        self.rows += rows

    def solve(self, ridge: float = RIDGE) -> tuple[np.ndarray, np.ndarray]:
        """(weights (outputs, middle/g), bias (outputs,)) minimising Σ‖y − P z − b‖² over the rows added."""
        g, m1, _ = self.zz.shape
        diagonal = np.diagonal(self.zz, axis1=1, axis2=2)[:, :-1].mean(axis=1) if m1 > 1 else np.ones(g)
        eye = np.eye(m1)
        eye[-1, -1] = 0.0  # the bias is not shrunk
        regular = self.zz + (ridge * np.where(diagonal > 0, diagonal, 1.0))[:, None, None] * eye
        solution = np.linalg.solve(regular, self.zy)  # (g, m+1, a)
        weights = np.swapaxes(solution[:, :-1, :], 1, 2).reshape(-1, m1 - 1)  # (g·a, m)
        return weights, solution[:, -1, :].reshape(-1)
