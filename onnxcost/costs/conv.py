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


def _conv(ctx: NodeContext, weight: int, bias: int | None) -> OpCost:
    macs = conv_macs(ctx.out_shape(0), ctx.in_shape(weight))
    bias_adds = ctx.out_numel(0) if bias is not None and ctx.has_input(bias) else 0
    return OpCost(macs=macs, flops=2 * macs + bias_adds)


@register("Conv")
def conv(ctx: NodeContext) -> OpCost:
    return _conv(ctx, weight=1, bias=2)


@register("ConvInteger")
def conv_integer(ctx: NodeContext) -> OpCost:
    return _conv(ctx, weight=1, bias=None)


@register("QLinearConv", integer_weight_inputs=(8,))
def qlinear_conv(ctx: NodeContext) -> OpCost:
    return _conv(ctx, weight=3, bias=8)


@register("ConvTranspose")
def conv_transpose(ctx: NodeContext) -> OpCost:
    # Every input element is scattered through (Cout/group)·∏kernel weights.
    macs = ctx.in_numel(0) * numel(ctx.in_shape(1)[1:])
    bias_adds = ctx.out_numel(0) if ctx.has_input(2) else 0
    return OpCost(macs=macs, flops=2 * macs + bias_adds)
