"""A conv's input patches as the conv sees them (im2col, pure numpy): what calibration statistics are made of.

At every output position a Conv reads, per input channel c, the K = prod(kernel) input values under its
(dilated, strided, padded) kernel: the patch p_c. The conv's output there is sum_c M_c p_c (the per-channel
matrices of ``factorize``), so second moments of patches are what tells which directions of W matter.
Rows come in the order of the conv's output positions (batch, then spatial dims, C order); a patch's K values
in the C order of the kernel dims, the order of ``weight.reshape(Cout, Cin/g, K)``.
"""

from __future__ import annotations

import itertools

import numpy as np

from .sites import ConvSite


def begin_pads(site: ConvSite, input_spatial: tuple[int, ...], out_spatial: tuple[int, ...]) -> tuple[int, ...]:
    """The zero padding before each spatial dim: the explicit pads, or what auto_pad implies."""
    if site.pads is not None:
        return tuple(site.pads[: len(site.kernel)])
    if site.auto_pad == "VALID":
        return (0,) * len(site.kernel)
    begins = []
    for size, out, k, s, d in zip(input_spatial, out_spatial, site.kernel, site.strides, site.dilations):
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        begins.append(total // 2 if site.auto_pad == "SAME_UPPER" else total - total // 2)
    return tuple(begins)


def output_spatial(site: ConvSite, input_spatial: tuple[int, ...]) -> tuple[int, ...]:
    """The conv's output spatial dims for an input of ``input_spatial`` (ONNX's Conv shape rule)."""
    nd = len(site.kernel)
    if site.pads is None and site.auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return tuple(-(-size // s) for size, s in zip(input_spatial, site.strides))
    pads = site.pads if site.pads is not None else (0,) * 2 * nd
    return tuple((size + pads[i] + pads[nd + i] - ((k - 1) * d + 1)) // s + 1
                 for i, (size, k, s, d) in enumerate(zip(input_spatial, site.kernel, site.strides, site.dilations)))


def conv_patches(x: np.ndarray, site: ConvSite) -> np.ndarray:
    """Patches of ``x`` [N, Cin, *S] for ``site``'s kernel: shape (N·prod(output spatial), Cin, K), x's dtype."""
    n, cin, *spatial = x.shape
    out_spatial = output_spatial(site, tuple(spatial))
    begins = begin_pads(site, tuple(spatial), out_spatial)
    widths = [(0, 0), (0, 0)]
    for size, out, b, k, s, d in zip(spatial, out_spatial, begins, site.kernel, site.strides, site.dilations):
        reach = (out - 1) * s + (k - 1) * d + 1  # the padded extent the conv reads
        widths.append((b, max(0, reach - size - b)))
    padded = np.pad(x, widths)
    taps = []
    for offset in itertools.product(*(range(k) for k in site.kernel)):
        window = tuple(slice(i * d, i * d + (out - 1) * s + 1, s)
                       for i, d, out, s in zip(offset, site.dilations, out_spatial, site.strides))
        taps.append(padded[(slice(None), slice(None), *window)])
    stacked = np.stack(taps, axis=-1)  # [N, Cin, *out, K]
    order = (0, *range(2, 2 + len(out_spatial)), 1, stacked.ndim - 1)
    return stacked.transpose(order).reshape(-1, cin, len(taps))


def output_rows(y: np.ndarray) -> np.ndarray:
    """A conv's output [N, Cout, *out] as (N·prod(out), Cout) rows, in the order of ``conv_patches``."""
    return np.moveaxis(y, 1, -1).reshape(-1, y.shape[1])
