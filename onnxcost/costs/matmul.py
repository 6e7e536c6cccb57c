"""Dense products: Gemm, MatMul (batched, broadcast), their quantized forms, and Einsum.

MatMul: MACs = ∏output·K, output shape after broadcasting. Gemm honours
transA/transB: MACs = M·N·K, and C adds one FLOP per output element.
Einsum: contractions are done pairwise left to right (as onnxruntime does);
each pair costs the product of the sizes of all letters it involves. One
operand: one add per reduced element, over its distinct letters.
"""

from __future__ import annotations

from ..tensors import numel
from .registry import MalformedNode, NodeContext, OpCost, register


def _matmul(ctx: NodeContext, a: int) -> OpCost:
    shape_a = ctx.in_shape(a)
    inner = shape_a[-1] if shape_a else 1
    macs = ctx.out_numel(0) * inner
    return OpCost(macs=macs, flops=2 * macs)


@register("MatMul")
def matmul(ctx: NodeContext) -> OpCost:
    """MatMul: MACs = ∏output·K, K the last dimension of A."""
    return _matmul(ctx, 0)


@register("MatMulInteger")
def matmul_integer(ctx: NodeContext) -> OpCost:
    """MatMulInteger: as MatMul (the zero points are not counted)."""
    return _matmul(ctx, 0)


@register("QLinearMatMul")
def qlinear_matmul(ctx: NodeContext) -> OpCost:
    """QLinearMatMul: as MatMul (scales and zero points are not counted)."""
    return _matmul(ctx, 0)


@register("Gemm")
def gemm(ctx: NodeContext) -> OpCost:
    """Gemm: MACs = M·N·K (K from A, transA honoured); C adds one FLOP per output element."""
    shape_a = ctx.in_shape(0)
    ctx.require(len(shape_a) >= 1, "input 0 (A) is a scalar, Gemm takes a matrix")
    inner = shape_a[0] if ctx.attr("transA", 0) else shape_a[-1]
    outputs = ctx.out_numel(0)
    macs = outputs * inner
    bias_adds = outputs if ctx.has_input(2) else 0
    return OpCost(macs=macs, flops=2 * macs + bias_adds)


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
        return OpCost(flops=max(reduced, 0))
    macs = 0
    current = operands[0]
    for index in range(1, len(operands)):
        involved = set(current) | set(operands[index])
        macs += numel(sizes[letter] for letter in involved)
        later = set(output).union(*(set(op) for op in operands[index + 1:]))
        current = "".join(sorted(involved & later))
    return OpCost(macs=macs, flops=2 * macs)


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
