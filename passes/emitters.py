"""The graphsurgeon pieces every structure writes: fresh names, weight constants, the spatial (KxK) conv that
takes the original's place and the 1x1 conv that ends the replacement and carries its bias.

The depthwise-first and grouped structures end in the same 1x1 conv (``pointwise_conv``), so its attributes and
the bias rule are written here once; the pointwise-first structure writes them the other way round
(``input_pointwise_conv`` from the site's input, ``output_spatial_conv`` to its output with the bias).
"""

from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from .sites import ConvSite


class Names:
    """Fresh node and tensor names (``base``, then ``base_2``, ...) in a graph."""

    def __init__(self, graph: gs.Graph):
        self.nodes = {n.name for n in graph.nodes if n.name}
        self.tensors = set(graph.tensors().keys())

    def node(self, base: str) -> str:
        """A node name not used in the graph yet (and reserved from now on)."""
        return _fresh(base, self.nodes)

    def tensor(self, base: str) -> str:
        """A tensor name not used in the graph yet (and reserved from now on)."""
        return _fresh(base, self.tensors)


def _fresh(base: str, used: set[str]) -> str:
    candidate, counter = base, 1
    while candidate in used:
        counter += 1
        candidate = f"{base}_{counter}"
    used.add(candidate)
    return candidate


def constant(name: str, values: np.ndarray, dtype: np.dtype) -> gs.Constant:
    """A weight constant of ``dtype`` (contiguous, as onnx's serializer wants it)."""
    return gs.Constant(name, np.ascontiguousarray(values, dtype=dtype))


def spatial_conv(site: ConvSite, name: str, weights: np.ndarray, group: int, output: gs.Variable,
                 names: Names) -> gs.Node:
    """Conv ``<site>/<name>`` reading the site's input with the original's kernel, strides, pads, auto_pad and
    dilations, ``group`` groups and ``weights`` (its weight tensor is ``<site>/<name>.weight``); no bias."""
    weight = constant(names.tensor(f"{site.name}/{name}.weight"), weights, site.dtype)
    return gs.Node("Conv", name=names.node(f"{site.name}/{name}"), attrs={**site.conv_attrs(), "group": group},
                   inputs=[site.input, weight], outputs=[output])


def pointwise_conv(site: ConvSite, name: str, x: gs.Variable, weights: np.ndarray, group: int,
                   names: Names, bias: np.ndarray | None = None) -> gs.Node:
    """1x1 Conv ``<site>/<name>`` from ``x`` to the site's output, ``group`` groups, 2-D ``weights``
    (Cout, channels per group), carrying ``bias`` (a refitted one) or else the site's bias (its tensors
    ``<site>/<name>.weight``, ``.bias``)."""
    inputs = [x, _pointwise_weight(site, name, weights, names), *_bias_inputs(site, name, bias, names)]
    return gs.Node("Conv", name=names.node(f"{site.name}/{name}"), attrs=_pointwise_attrs(site, group),
                   inputs=inputs, outputs=[site.output])


def input_pointwise_conv(site: ConvSite, name: str, weights: np.ndarray, group: int, output: gs.Variable,
                         names: Names) -> gs.Node:
    """1x1 Conv ``<site>/<name>`` reading the site's input, ``group`` groups, 2-D ``weights`` (channels out,
    channels in per group), no bias (so zero padding after it is padding of its input)."""
    return gs.Node("Conv", name=names.node(f"{site.name}/{name}"), attrs=_pointwise_attrs(site, group),
                   inputs=[site.input, _pointwise_weight(site, name, weights, names)], outputs=[output])


def output_spatial_conv(site: ConvSite, name: str, x: gs.Variable, weights: np.ndarray, group: int, names: Names,
                        bias: np.ndarray | None = None, *, output: gs.Variable | None = None,
                        with_bias: bool = True) -> gs.Node:
    """Conv ``<site>/<name>`` from ``x`` to ``output`` (default: the site's output) with the original's kernel,
    strides, pads, auto_pad and dilations, ``group`` groups and ``weights``, carrying ``bias`` (a refitted one) or
    else the site's (``with_bias=False``: none, for a part of a sum whose bias another part carries)."""
    weight = constant(names.tensor(f"{site.name}/{name}.weight"), weights, site.dtype)
    biases = _bias_inputs(site, name, bias, names) if with_bias else []
    return gs.Node("Conv", name=names.node(f"{site.name}/{name}"), attrs={**site.conv_attrs(), "group": group},
                   inputs=[x, weight, *biases], outputs=[output if output is not None else site.output])


def _pointwise_attrs(site: ConvSite, group: int) -> dict:
    ones = [1] * site.spatial_rank
    return {"kernel_shape": ones, "strides": ones, "dilations": ones, "pads": [0] * 2 * len(ones), "group": group}


def _pointwise_weight(site: ConvSite, name: str, weights: np.ndarray, names: Names) -> gs.Constant:
    """``<site>/<name>.weight``: 2-D ``weights`` as a 1x1 conv's (out, in per group, 1, ...)."""
    ones = [1] * site.spatial_rank
    return constant(names.tensor(f"{site.name}/{name}.weight"), weights.reshape(*weights.shape, *ones), site.dtype)


def _bias_inputs(site: ConvSite, name: str, bias: np.ndarray | None, names: Names) -> list[gs.Constant]:
    """``<site>/<name>.bias``: ``bias`` (a refitted one) or else the site's, or nothing when neither is."""
    bias = site.bias if bias is None else bias
    return [] if bias is None else [constant(names.tensor(f"{site.name}/{name}.bias"), bias, site.dtype)]
