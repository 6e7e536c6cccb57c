"""Pooling. MaxPool: k - 1 comparisons per output, AveragePool: k - 1 adds and
a divide (k), k = ∏kernel_shape. Global pools use the whole spatial extent."""

from __future__ import annotations

from ..tensors import numel
from .registry import NodeContext, OpCost, register


def _window(ctx: NodeContext) -> int:
    kernel = ctx.attr("kernel_shape")
    ctx.require(all(k >= 1 for k in kernel), f"kernel_shape {list(kernel)} has a dimension below 1")
    return numel(kernel)


@register("MaxPool")
def max_pool(ctx: NodeContext) -> OpCost:
    """MaxPool: k - 1 comparisons per output element (k = ∏kernel_shape)."""
    return OpCost(flops=(_window(ctx) - 1) * ctx.out_numel(0))


@register("AveragePool")
def average_pool(ctx: NodeContext) -> OpCost:
    """AveragePool: k - 1 adds and a divide per output element."""
    return OpCost(flops=_window(ctx) * ctx.out_numel(0))


@register("LpPool")
def lp_pool(ctx: NodeContext) -> OpCost:
    """LpPool: |x|^p and an add per window element, a root per output element."""
    count = ctx.out_numel(0)  # |x|^p and add per window element, one root per output
    return OpCost(flops=(2 * _window(ctx) + 1) * count, special_ops=(_window(ctx) + 1) * count)


def _spatial(ctx: NodeContext) -> int:
    return numel(ctx.in_shape(0)[2:])


@register("GlobalAveragePool")
def global_average_pool(ctx: NodeContext) -> OpCost:
    """GlobalAveragePool: k - 1 adds and a divide per output element (k = ∏spatial)."""
    return OpCost(flops=_spatial(ctx) * ctx.out_numel(0))


@register("GlobalMaxPool")
def global_max_pool(ctx: NodeContext) -> OpCost:
    """GlobalMaxPool: k - 1 comparisons per output element (k = ∏spatial)."""
    return OpCost(flops=(_spatial(ctx) - 1) * ctx.out_numel(0))


@register("GlobalLpPool")
def global_lp_pool(ctx: NodeContext) -> OpCost:
    """GlobalLpPool: |x|^p and an add per spatial element, a root per output element."""
    count = ctx.out_numel(0)
    return OpCost(flops=(2 * _spatial(ctx) + 1) * count, special_ops=(_spatial(ctx) + 1) * count)
