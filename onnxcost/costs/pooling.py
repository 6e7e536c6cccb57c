"""Pooling. MaxPool: k - 1 comparisons per output, AveragePool: k - 1 adds and
a divide (k), k = ∏kernel_shape. Global pools use the whole spatial extent."""

from __future__ import annotations

from ..tensors import numel
from .registry import NodeContext, OpCost, register


def _window(ctx: NodeContext) -> int:
    return numel(ctx.attr("kernel_shape"))


@register("MaxPool")
def max_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=(_window(ctx) - 1) * ctx.out_numel(0))


@register("AveragePool")
def average_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=_window(ctx) * ctx.out_numel(0))


@register("LpPool")
def lp_pool(ctx: NodeContext) -> OpCost:
    count = ctx.out_numel(0)  # |x|^p and add per window element, one root per output
    return OpCost(flops=(2 * _window(ctx) + 1) * count, special_ops=(_window(ctx) + 1) * count)


def _spatial(ctx: NodeContext) -> int:
    return numel(ctx.in_shape(0)[2:])


@register("GlobalAveragePool")
def global_average_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=_spatial(ctx) * ctx.out_numel(0))


@register("GlobalMaxPool")
def global_max_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=(_spatial(ctx) - 1) * ctx.out_numel(0))


@register("GlobalLpPool")
def global_lp_pool(ctx: NodeContext) -> OpCost:
    count = ctx.out_numel(0)
    return OpCost(flops=(2 * _spatial(ctx) + 1) * count, special_ops=(_spatial(ctx) + 1) * count)
