"""Convolutions. MACs = N·Cout·∏out_spatial·(Cin/group)·∏kernel (Conv) and
N·Cin·∏in_spatial·(Cout/group)·∏kernel (ConvTranspose); a bias adds one FLOP
per output element. Strides, pads, dilations and auto_pad act through the
output shape that inference computed. A Conv fed by DequantizeLinear nodes (QDQ) counts its MACs at the
precision of the integers behind them. The quantized forms are in quantized.py."""

from __future__ import annotations

from ..tensors import numel
from .registry import NodeContext, OpCost, at_precision, register


def conv_macs(output_shape: tuple[int, ...], weight_shape: tuple[int, ...]) -> int:
    """MACs of a Conv: each output element is a dot product over (Cin/group)·∏kernel = the weight's trailing dims."""
    return numel(output_shape) * numel(weight_shape[1:])


def _weight_shape(ctx: NodeContext, index: int) -> tuple[int, ...]:
    shape = ctx.in_shape(index)
    ctx.require(len(shape) >= 3, f"input {index} (the weight) has rank {len(shape)}, a convolution's has 3 or more")
    return shape


def convolution(ctx: NodeContext, weight: int, bias: int | None) -> OpCost:
    """A Conv's cost with its weight at input ``weight`` and its bias (if any) at ``bias``, MACs at the precision
    of input 0 and the weight."""
    macs = conv_macs(ctx.out_shape(0), _weight_shape(ctx, weight))
    bias_adds = ctx.out_numel(0) if bias is not None and ctx.has_input(bias) else 0
    return at_precision(OpCost(macs=macs, flops=2 * macs + bias_adds), ctx.precision((0, weight)))


@register("Conv")
def conv(ctx: NodeContext) -> OpCost:
    """Conv: X [N, C, ...], W [M, C/group, k...]; MACs = ∏output·(C/group)·∏k, a bias adds one FLOP per output."""
    return convolution(ctx, weight=1, bias=2)


@register("ConvTranspose")
def conv_transpose(ctx: NodeContext) -> OpCost:
    """ConvTranspose: W [C, M/group, k...]; MACs = ∏input·(M/group)·∏k, a bias adds one FLOP per output."""
    # Every input element is scattered through (Cout/group)·∏kernel weights.
    macs = ctx.in_numel(0) * numel(_weight_shape(ctx, 1)[1:])
    bias_adds = ctx.out_numel(0) if ctx.has_input(2) else 0
    return at_precision(OpCost(macs=macs, flops=2 * macs + bias_adds), ctx.precision())
