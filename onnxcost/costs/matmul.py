"""Dense products: Gemm, MatMul (batched, broadcast) and Einsum (their quantized forms are in quantized.py).

MatMul: MACs = ∏output·K, output shape after broadcasting. Gemm honours
transA/transB: MACs = M·N·K, and C adds one FLOP per output element.
Einsum: contractions are done pairwise left to right (as onnxruntime does);
each pair costs the product of the sizes of all letters it involves. One
operand: one add per reduced element, over its distinct letters.
Fed by DequantizeLinear nodes (QDQ), the MACs count at the precision of the integers behind them.
"""

from __future__ import annotations

from ..tensors import at_least, numel
from .registry import MalformedNode, NodeContext, OpCost, at_precision, register


def matrix_product(ctx: NodeContext, a: int, b: int, bias: int | None = None) -> OpCost:
    """MatMul of inputs ``a`` and ``b``: MACs = ∏output·K (K the last dimension of A) at their precision; a bias
    input adds one FLOP per output element."""
    shape_a = ctx.in_shape(a)
    inner = shape_a[-1] if shape_a else 1
    outputs = ctx.out_numel(0)
    macs = outputs * inner
    bias_adds = outputs if bias is not None and ctx.has_input(bias) else 0
    return at_precision(OpCost(macs=macs, flops=2 * macs + bias_adds), ctx.precision((a, b)))


def general_product(ctx: NodeContext, a: int, b: int, c: int) -> OpCost:
    """Gemm of inputs ``a``, ``b`` (transA honoured) plus ``c``: MACs = M·N·K at their precision, C one FLOP per
    output element."""
    shape_a = ctx.in_shape(a)
    ctx.require(len(shape_a) >= 1, f"input {a} (A) is a scalar, Gemm takes a matrix")
    inner = shape_a[0] if ctx.attr("transA", 0) else shape_a[-1]
    outputs = ctx.out_numel(0)
    macs = outputs * inner
    bias_adds = outputs if ctx.has_input(c) else 0
    return at_precision(OpCost(macs=macs, flops=2 * macs + bias_adds), ctx.precision((a, b)))


@register("MatMul")
def matmul(ctx: NodeContext) -> OpCost:
    """MatMul: MACs = ∏output·K, K the last dimension of A."""
    return matrix_product(ctx, 0, 1)


@register("Gemm")
def gemm(ctx: NodeContext) -> OpCost:
    """Gemm: MACs = M·N·K (K from A, transA honoured); C adds one FLOP per output element."""
    return general_product(ctx, 0, 1, 2)


@register("Einsum")
def einsum(ctx: NodeContext) -> OpCost:
    """Einsum: pairwise contractions left to right, each the product of the sizes of the letters it involves."""
    shapes = [ctx.in_shape(i) for i in range(len(ctx.node.input))]
    operands, output = parse_einsum(ctx.attr("equation"), shapes)
    for index, (letters, shape) in enumerate(zip(operands, shapes)):
        ctx.require(len(letters) == len(shape), f"einsum '{ctx.attr('equation')}' gives operand {index} "
                                                f"{len(letters)} letters, its rank is {len(shape)}")
    ctx.require(set(output) <= set().union(*operands),
                f"einsum '{ctx.attr('equation')}': the output names letters no operand has")
    sizes: dict[str, int] = {}
    for letters, shape in zip(operands, shapes):
        for letter, dim in zip(letters, shape):
            sizes[letter] = max(sizes.get(letter, 1), dim)  # broadcast dims of size 1
    if len(operands) == 1:  # a reduction over the distinct letters (a diagonal reads n of n·n elements)
        reduced = numel(sizes[letter] for letter in set(operands[0])) - ctx.out_numel(0)
        return OpCost(flops=at_least(reduced, 0))
    macs = 0
    current = operands[0]
    for index in range(1, len(operands)):
        involved = set(current) | set(operands[index])
        macs += numel(sizes[letter] for letter in involved)
        later = set(output).union(*(set(op) for op in operands[index + 1:]))
        current = "".join(sorted(involved & later))
    return at_precision(OpCost(macs=macs, flops=2 * macs), ctx.precision(range(len(shapes))))


def parse_einsum(equation: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """Operand and output letter strings, with '...' expanded into letters of their own.

    MalformedNode when the equation names another number of operands than ``shapes`` has.
    """
    equation = equation.replace(" ", "")
    lhs, _, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise MalformedNode(f"einsum '{equation}' names {len(terms)} operands, node has {len(shapes)}")
    used = set(equation) - set(".,->")
    spare = (chr(code) for code in range(0x100, 0x200) if chr(code) not in used)
    ellipsis_rank = max((len(shape) - len(term.replace("...", "")) for term, shape in zip(terms, shapes) if "..." in term), default=0)
    ellipsis = "".join(next(spare) for _ in range(ellipsis_rank))
    operands = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            own = len(shape) - len(term.replace("...", ""))
            term = term.replace("...", ellipsis[ellipsis_rank - own:] if own else "")
        operands.append(term)
    if "->" in equation:
        output = rhs.replace("...", ellipsis)
    else:  # implicit output: broadcast dims, then letters seen once, alphabetically
        counts = {}
        for term in operands:
            for letter in term:
                counts[letter] = counts.get(letter, 0) + 1
        output = ellipsis + "".join(sorted(l for l, c in counts.items() if c == 1 and l not in ellipsis))
    return operands, output
