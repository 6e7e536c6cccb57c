"""Normalizations in inference.

BatchNormalization folds into y = a·x + b: 2 FLOPs per element.
Layer/Instance/Group normalization compute statistics per normalized group:
per element mean-add, subtract, square, variance-add, multiply by 1/σ (5),
plus scale (1) and bias (1) when present; per group 5 more (two divides,
add ε, sqrt, reciprocal), the sqrt a special op. RMSNormalization: square,
add, multiply by 1/rms, scale per element; divide, add ε, sqrt, reciprocal
per group.
"""

from __future__ import annotations

from ..tensors import at_least, numel
from .registry import NodeContext, OpCost, register


@register("BatchNormalization")
def batch_norm(ctx: NodeContext) -> OpCost:
    """BatchNormalization (inference): y = a·x + b, 2 FLOPs per element."""
    return OpCost(flops=2 * ctx.out_numel(0))


def _normalize(elements: int, groups: int, per_element: int, per_group: int = 5) -> OpCost:
    return OpCost(flops=per_element * elements + per_group * groups, special_ops=groups)


def _axis_groups(shape: tuple[int, ...], axis: int) -> int:
    return numel(shape[: axis % len(shape)]) if shape else 1


@register("LayerNormalization")
def layer_norm(ctx: NodeContext) -> OpCost:
    """LayerNormalization: statistics over the axes from ``axis`` on; scale always, bias when given."""
    shape = ctx.in_shape(0)
    groups = _axis_groups(shape, ctx.attr("axis", -1))
    per_element = 5 + 1 + (1 if ctx.has_input(2) else 0)
    return _normalize(numel(shape), groups, per_element)


@register("InstanceNormalization")
def instance_norm(ctx: NodeContext) -> OpCost:
    """InstanceNormalization: statistics per (N, C) group, scale and bias per element."""
    shape = ctx.in_shape(0)
    return _normalize(numel(shape), numel(shape[:2]), 5 + 2)


@register("GroupNormalization")
def group_norm(ctx: NodeContext) -> OpCost:
    """GroupNormalization: statistics per (N, group), scale and bias per element."""
    shape = ctx.in_shape(0)
    ctx.require(len(shape) >= 2, f"input 0 has rank {len(shape)}, GroupNormalization takes [N, C, ...]")
    return _normalize(numel(shape), shape[0] * ctx.attr("num_groups"), 5 + 2)


@register("RMSNormalization")
def rms_norm(ctx: NodeContext) -> OpCost:
    """RMSNormalization: square, add, multiply by 1/rms and scale per element; 4 per group."""
    shape = ctx.in_shape(0)
    groups = _axis_groups(shape, ctx.attr("axis", -1))
    return _normalize(numel(shape), groups, 4, per_group=4)


@register("LpNormalization")
def lp_norm(ctx: NodeContext) -> OpCost:
    """LpNormalization: |x| or x² and add per element, a root per group, a divide per element."""
    shape = ctx.in_shape(0)
    ctx.require(len(shape) >= 1, "input 0 is a scalar, LpNormalization normalizes along an axis")
    axis = ctx.attr("axis", -1) % len(shape)
    groups = numel(shape) // at_least(shape[axis], 1)
    # |x| or x² and add per element, a root per group, a divide per element.
    return OpCost(flops=3 * numel(shape) + groups, special_ops=groups)


@register("LRN")
def lrn(ctx: NodeContext) -> OpCost:
    """LRN: square-and-add over the window of ``size`` channels, scale, add bias, pow and divide per element."""
    size = ctx.attr("size")
    count = ctx.out_numel(0)
    # square-and-add over the window, scale, add bias, pow, divide.
    return OpCost(flops=(2 * size + 4) * count, special_ops=count)
