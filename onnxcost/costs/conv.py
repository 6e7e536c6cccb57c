"""Convolutions. MACs = N·Cout·∏out_spatial·(Cin/group)·∏kernel (Conv) and
N·Cin·∏in_spatial·(Cout/group)·∏kernel (ConvTranspose); a bias adds one FLOP
per output element. Strides, pads, dilations and auto_pad act through the
output shape that inference computed."""

from __future__ import annotations

from ..tensors import numel
from .registry import NodeContext, OpCost, register


def conv_macs(output_shape: tuple[int, ...], weight_shape: tuple[int, ...]) -> int:
    """MACs of a Conv: each output element is a dot product over (Cin/group)·∏kernel = the weight's trailing dims."""
    return numel(output_shape) * numel(weight_shape[1:])


def _weight_shape(ctx: NodeContext, index: int) -> tuple[int, ...]:
    shape = ctx.in_shape(index)
    ctx.require(len(shape) >= 3, f"input {index} (the weight) has rank {len(shape)}, a convolution's has 3 or more")
    return shape


def _conv(ctx: NodeContext, weight: int, bias: int | None) -> OpCost:
    macs = conv_macs(ctx.out_shape(0), _weight_shape(ctx, weight))
    bias_adds = ctx.out_numel(0) if bias is not None and ctx.has_input(bias) else 0
    return OpCost(macs=macs, flops=2 * macs + bias_adds)


@register("Conv")
def conv(ctx: NodeContext) -> OpCost:
    """Conv: X [N, C, ...], W [M, C/group, k...]; MACs = ∏output·(C/group)·∏k, a bias adds one FLOP per output."""
    return _conv(ctx, weight=1, bias=2)


@register("ConvInteger")
def conv_integer(ctx: NodeContext) -> OpCost:
    """ConvInteger: as Conv, no bias (the zero points are not counted)."""
    return _conv(ctx, weight=1, bias=None)


@register("QLinearConv", integer_weight_inputs=(8,))
def qlinear_conv(ctx: NodeContext) -> OpCost:
    """QLinearConv: as Conv with the weight at input 3 and the int32 bias at input 8."""
    return _conv(ctx, weight=3, bias=8)


@register("ConvTranspose")
def conv_transpose(ctx: NodeContext) -> OpCost:
    """ConvTranspose: W [C, M/group, k...]; MACs = ∏input·(M/group)·∏k, a bias adds one FLOP per output."""
    # Every input element is scattered through (Cout/group)·∏kernel weights.
    macs = ctx.in_numel(0) * numel(_weight_shape(ctx, 1)[1:])
    bias_adds = ctx.out_numel(0) if ctx.has_input(2) else 0
    return OpCost(macs=macs, flops=2 * macs + bias_adds)
