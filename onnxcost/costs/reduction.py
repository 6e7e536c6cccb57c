"""Reductions and softmax. With n input and m output elements:
ReduceSum/Max/Min/Prod and ArgMax/ArgMin: n - m; ReduceMean: n (adds and
one divide per output); ReduceSumSquare and ReduceL1: 2n - m; ReduceL2:
2n - m + m (root, special); ReduceLogSum: n - m + m (log, special);
ReduceLogSumExp: 2n (exp, adds, log; n + m special).
Softmax: exp, add, divide per element (3n, n special); LogSoftmax:
exp, add, subtract per element and a log per row (3n + rows, n + rows special).
"""

from __future__ import annotations

from ..tensors import at_least, numel
from .registry import NodeContext, OpCost, register


def _sizes(ctx: NodeContext) -> tuple[int, int]:
    return ctx.in_numel(0), ctx.out_numel(0)


@register("ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ArgMax", "ArgMin")
def reduce_plain(ctx: NodeContext) -> OpCost:
    """ReduceSum/Max/Min/Prod, ArgMax/ArgMin: n - m FLOPs (n input, m output elements)."""
    n, m = _sizes(ctx)
    return OpCost(flops=at_least(n - m, 0))


@register("ReduceMean")
def reduce_mean(ctx: NodeContext) -> OpCost:
    """ReduceMean: n - m adds and m divides."""
    n, m = _sizes(ctx)
    return OpCost(flops=at_least(n - m, 0) + m)


@register("ReduceSumSquare", "ReduceL1")
def reduce_squares(ctx: NodeContext) -> OpCost:
    """ReduceSumSquare, ReduceL1: n squares or abs, n - m adds."""
    n, m = _sizes(ctx)
    return OpCost(flops=n + at_least(n - m, 0))


@register("ReduceL2")
def reduce_l2(ctx: NodeContext) -> OpCost:
    """ReduceL2: n squares, n - m adds, m roots (special)."""
    n, m = _sizes(ctx)
    return OpCost(flops=n + at_least(n - m, 0) + m, special_ops=m)


@register("ReduceLogSum")
def reduce_log_sum(ctx: NodeContext) -> OpCost:
    """ReduceLogSum: n - m adds, m logs (special)."""
    n, m = _sizes(ctx)
    return OpCost(flops=at_least(n - m, 0) + m, special_ops=m)


@register("ReduceLogSumExp")
def reduce_log_sum_exp(ctx: NodeContext) -> OpCost:
    """ReduceLogSumExp: n exps, n - m adds, m logs (n + m special)."""
    n, m = _sizes(ctx)
    return OpCost(flops=n + at_least(n - m, 0) + m, special_ops=n + m)


def _rows(ctx: NodeContext) -> int:
    shape = ctx.in_shape(0)
    if not shape:
        return 1
    default = -1 if ctx.opset >= 13 else 1
    axis = ctx.attr("axis", default) % len(shape)
    if ctx.opset < 13:  # the input is coerced to 2-D at axis: one row per leading index
        return numel(shape[:axis])
    return numel(shape) // at_least(shape[axis], 1)


@register("Softmax")
def softmax(ctx: NodeContext) -> OpCost:
    """Softmax: exp, add, divide per element (3n FLOPs, n special)."""
    n = ctx.in_numel(0)
    return OpCost(flops=3 * n, special_ops=n)


@register("LogSoftmax")
def log_softmax(ctx: NodeContext) -> OpCost:
    """LogSoftmax: exp, add, subtract per element and a log per row."""
    n, rows = ctx.in_numel(0), _rows(ctx)
    return OpCost(flops=3 * n + rows, special_ops=n + rows)


@register("Hardmax")
def hardmax(ctx: NodeContext) -> OpCost:
    """Hardmax: one comparison per element but the first of each row."""
    n = ctx.in_numel(0)
    return OpCost(flops=n - _rows(ctx))


@register("CumSum")
def cumsum(ctx: NodeContext) -> OpCost:
    """CumSum: one add per output element."""
    return OpCost(flops=ctx.out_numel(0))


@register("TopK")
def top_k(ctx: NodeContext) -> OpCost:
    """TopK: one comparison per input element (a selection pass)."""
    return OpCost(flops=ctx.in_numel(0))  # one comparison per element (a selection pass)
