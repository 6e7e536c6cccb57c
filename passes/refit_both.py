"""Both factors of a rewritten layer refitted on the rewritten model's inputs (pure numpy).

``refit`` refits a layer's last conv with its first factor fixed. Where the structure allows it, both factors
can be fitted together from the same data: the least-squares problem is then over the layer's *input patches*
x (Cin·K values and a constant 1 per output position, from the rewritten model) against the original model's
output y, and only Σ x xᵀ and Σ x yᵀ are needed (``NormalEquations`` over the patches, one group), so memory
still does not grow with the samples.

- **Low-rank pair** (``Grouped(1)``: a KxK conv Cin -> r, a 1x1 conv r -> Cout with the bias): the best
  rank-r map is reduced-rank regression (Izenman 1975): the full least-squares fit, then its centred fitted
  outputs projected on their top r principal directions V_r. First factor V_rᵀ·W, second V_r. Closed form.
- **Pointwise first** (a 1x1 conv Cin -> Cout·r, a grouped KxK conv r -> 1 per output): every output channel o
  is its own problem, w_o(c, k) = Σ_t a_ot[c]·d_ot[k] under the patch metric; no closed form, so alternating
  least squares from the calibrated factors: with d fixed the a's and the bias are linear least squares, with
  a fixed the d's are. Each step cannot raise the error.

Measured on PP-OCRv4 det (docs/frontier.md): +0.011 to +0.016 mask IoU over the last factor alone. The other
structures (depthwise first, grouped G > 1: their first factor is shared across output groups or mixed by the
shuffle) keep the last-factor refit.

Both fits have more unknowns per output than the last factor alone: Cin·K + 1 for the full fit the pair starts
from. With few rows per unknown they fit the calibration data and generalise worse (PP-OCRv4 rec: refitting its
neck's and head's layers, seen at 40 positions per line, lost held-out lines), so a layer is refitted this way
only with at least MIN_ROWS_PER_UNKNOWN rows per unknown.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .block_factorize import GroupedFactors
from .output_factorize import PointwiseFirstFactors
from .refit import RIDGE, NormalEquations
from .sites import ConvSite

MIN_ROWS_PER_UNKNOWN = 20  # below this the full fit over-fits (see the module's docstring)
ROUNDS = 40  # alternating rounds at most
TOLERANCE = 1e-6  # a round that lowers the residual by less than this fraction of it ends the alternation


def jointly(site: ConvSite, factors, rows: int | None) -> bool:
    """True when both of ``factors``' convs can be refitted together from ``rows`` patch rows (None: unknown)."""
    if site.group != 1 or rows is None:
        return False
    if isinstance(factors, GroupedFactors):
        fits = factors.groups == 1
    else:
        fits = isinstance(factors, PointwiseFirstFactors) and factors.group == 1
    return fits and rows >= MIN_ROWS_PER_UNKNOWN * (patch_width(site) + 1)


def patch_width(site: ConvSite) -> int:
    """Values per input patch: Cin·K."""
    return site.cin * int(np.prod(site.kernel))


def patch_rows(site: ConvSite, samples: int) -> int | None:
    """Patch rows ``samples`` samples give (one per output position), None when the output's dims are not known."""
    shape = site.output_shape
    if shape is None or not all(isinstance(d, (int, np.integer)) and d > 0 for d in shape[2:]):
        return None
    return samples * int(np.prod(shape[2:], dtype=np.int64))


def patch_equations(site: ConvSite) -> NormalEquations:
    """Empty sums for the patches of ``site`` against its outputs."""
    return NormalEquations.empty(patch_width(site), site.cout, 1)


def refit_both(factors, equations: NormalEquations, ridge: float = RIDGE):
    """``factors`` with both convs and the bias refitted on ``equations`` (patches against the original outputs)."""
    if isinstance(factors, GroupedFactors):
        first, second, bias = reduced_rank(equations, factors.rank, ridge)
        dtype = factors.spatial.dtype
        return replace(factors, spatial=first.reshape(factors.spatial.shape).astype(dtype),
                       pointwise=second.astype(dtype), bias=bias.astype(dtype))
    return alternating(equations, factors, ridge)


def reduced_rank(equations: NormalEquations, rank: int, ridge: float = RIDGE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first (r, d), second (Cout, r), bias (Cout,)) minimising Σ‖y − second·first·x − bias‖² over the rows."""
    zz, n = equations.zz[0], equations.rows
    weights, bias = equations.solve(ridge)  # the unconstrained fit
    full = np.vstack([weights.T, bias])  # (d+1, Cout), as the rows x with their trailing 1 are multiplied
    mean_x = zz[-1, :-1] / n
    mean_fit = (zz[-1] / n) @ full
    fitted = full.T @ zz @ full - n * np.outer(mean_fit, mean_fit)  # Σ of the centred fitted outputs' products
    directions = np.linalg.eigh(fitted)[1][:, ::-1][:, :rank]  # (Cout, r), orthonormal
    first = (full[:-1] @ directions).T  # (r, d)
    return first, directions, mean_fit - directions @ (first @ mean_x)


def alternating(equations: NormalEquations, factors: PointwiseFirstFactors,
                ridge: float = RIDGE) -> PointwiseFirstFactors:
    """Pointwise-first factors refitted per output channel by alternating least squares from ``factors``."""
    zz, zy = equations.zz[0], equations.zy[0]
    cout, r = factors.spatial.shape[:2]
    k = int(np.prod(factors.spatial.shape[2:]))
    cin = factors.pointwise.shape[1]
    d = cin * k
    moments = zz[:d, :d].reshape(cin, k, cin, k)
    with_one = zz[:d, d].reshape(cin, k)  # Σ x (the constant's row)
    count = zz[d, d]
    shrink = ridge * np.diagonal(zz)[:d].mean()
    left = factors.pointwise.reshape(cout, r, cin).astype(np.float64)
    right = factors.spatial.reshape(cout, r, k).astype(np.float64)
    bias = np.zeros(cout)
    for o in range(cout):
        target, target_one = zy[:d, o].reshape(cin, k), zy[d, o]
        a, t = left[o], right[o]
        before = np.inf
        for _ in range(ROUNDS):
            # a-step: unknowns a (r, Cin) and the bias, with the taps t fixed.
            system = np.einsum("jk,ckel,ml->jcme", t, moments, t, optimize=True).reshape(r * cin, r * cin)
            a, b, _ = _solve_with_bias(system, (t @ with_one.T).reshape(-1), count,
                                       (t @ target.T).reshape(-1), target_one, shrink)
            a = a.reshape(r, cin)
            # t-step: unknowns t (r, K) and the bias, with a fixed.
            system = np.einsum("jc,ckel,me->jkml", a, moments, a, optimize=True).reshape(r * k, r * k)
            t, b, explained = _solve_with_bias(system, (a @ with_one).reshape(-1), count,
                                               (a @ target).reshape(-1), target_one, shrink)
            residual = equations.yy[o] - explained
            t = t.reshape(r, k)
            # a_t·d_t is unchanged by scaling a_t up and d_t down: keep their norms equal so both steps stay
            # well conditioned.
            scale = np.sqrt((np.linalg.norm(t, axis=1) + 1e-30) / (np.linalg.norm(a, axis=1) + 1e-30))
            a, t = a * scale[:, None], t / scale[:, None]
            if before - residual <= TOLERANCE * residual + 1e-15 * equations.yy[o]:
                break
            before = residual
        left[o], right[o], bias[o] = a, t, b
    dtype = factors.spatial.dtype
    return replace(factors, pointwise=left.reshape(factors.pointwise.shape).astype(dtype),
                   spatial=right.reshape(factors.spatial.shape).astype(dtype), bias=bias.astype(dtype))


def _solve_with_bias(system: np.ndarray, with_one: np.ndarray, count: float, target: np.ndarray,
                     target_one: float, shrink: float) -> tuple[np.ndarray, float, float]:
    """(unknowns, bias, explained) of min Σ(y − u·v − b)² given Σ v vᵀ = ``system``, Σ v = ``with_one``, rows =
    ``count``, Σ v y = ``target``, Σ y = ``target_one``; ``shrink`` on u only. The residual is Σ y² − explained
    (exactly so without ``shrink``)."""
    n = len(system)
    full = np.empty((n + 1, n + 1))
    full[:n, :n] = system + shrink * np.eye(n)
    full[:n, n] = full[n, :n] = with_one
    full[n, n] = count
    rhs = np.r_[target, target_one]
    solution = np.linalg.solve(full, rhs)
    return solution[:n], float(solution[n]), float(rhs @ solution)
