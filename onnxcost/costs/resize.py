"""Resize / Upsample. Per output element: nearest 0; linear over d resized axes
2^d - 1 interpolations of 3 FLOPs (a + t·(b - a)); cubic over d axes
(4^d - 1)/3 one-dimensional cubic interpolations of 7 FLOPs (4 multiplies,
3 adds). ROI, scales and sizes are settings, not parameters."""

from __future__ import annotations

from .registry import NodeContext, OpCost, register


def _resized_axes(ctx: NodeContext) -> int:
    before, after = ctx.in_shape(0), ctx.out_shape(0)
    return sum(1 for a, b in zip(before, after) if a != b)


def _interpolation_flops(mode: str, axes: int) -> int:
    if mode in ("linear", "bilinear", "trilinear"):
        return 3 * (2**axes - 1)
    if mode in ("cubic", "bicubic"):
        return 7 * (4**axes - 1) // 3
    return 0


@register("Resize", non_weight_inputs=(1, 2, 3))
def resize(ctx: NodeContext) -> OpCost:
    """Resize: per output element 0 (nearest), 3·(2^d - 1) (linear) or 7·(4^d - 1)/3 (cubic), d resized axes."""
    flops = _interpolation_flops(ctx.attr("mode", "nearest"), _resized_axes(ctx))
    return OpCost(flops=flops * ctx.out_numel(0))


@register("Upsample", non_weight_inputs=(1,))
def upsample(ctx: NodeContext) -> OpCost:
    """Upsample (before opset 10): as Resize."""
    return resize(ctx)
