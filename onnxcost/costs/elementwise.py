"""Element-wise ops: activations, unary math, and broadcasting binary arithmetic.

Each entry is (FLOPs, special ops) per output element. A transcendental
(exp, log, sqrt, erf, tanh, sin, pow, ...) counts one FLOP and one special op;
the arithmetic around it counts one FLOP per operation. The decompositions
are written next to each entry; docs/conventions.md has the same table.
"""

from __future__ import annotations

from .registry import NodeContext, OpCost, per_output_element, register, variadic_per_output_element

PER_ELEMENT: dict[str, tuple[int, int]] = {
    # activations
    "Relu": (1, 0),              # max(x, 0)
    "LeakyRelu": (2, 0),         # compare, multiply
    "PRelu": (2, 0),             # compare, multiply by the slope
    "ThresholdedRelu": (1, 0),   # compare-select
    "Sigmoid": (4, 1),           # neg, exp, add 1, divide
    "HardSigmoid": (4, 0),       # multiply, add, min, max
    "HardSwish": (5, 0),         # hard sigmoid, multiply by x
    "Swish": (6, 1),             # multiply by alpha, sigmoid, multiply by x
    "Tanh": (1, 1),
    "Elu": (4, 1),               # compare, exp, subtract 1, multiply by alpha
    "Selu": (5, 1),              # elu, multiply by gamma
    "Celu": (7, 1),              # divide, exp, subtract, multiply, min, max, add
    "Softplus": (3, 2),          # exp, add 1, log
    "Softsign": (3, 0),          # abs, add 1, divide
    "Mish": (5, 3),              # softplus, tanh, multiply
    "Shrink": (2, 0),            # compare, add/subtract bias
    # unary math
    "Exp": (1, 1), "Log": (1, 1), "Sqrt": (1, 1), "Erf": (1, 1),
    "Sin": (1, 1), "Cos": (1, 1), "Tan": (1, 1), "Asin": (1, 1), "Acos": (1, 1), "Atan": (1, 1),
    "Sinh": (1, 1), "Cosh": (1, 1), "Asinh": (1, 1), "Acosh": (1, 1), "Atanh": (1, 1),
    "Reciprocal": (1, 0), "Neg": (1, 0), "Abs": (1, 0), "Sign": (1, 0),
    "Floor": (1, 0), "Ceil": (1, 0), "Round": (1, 0), "Not": (1, 0), "IsNaN": (1, 0), "IsInf": (1, 0),
    "BitwiseNot": (1, 0),
    # binary arithmetic, comparison and logic, with broadcasting
    "Add": (1, 0), "Sub": (1, 0), "Mul": (1, 0), "Div": (1, 0), "Mod": (1, 0),
    "Pow": (1, 1),
    "Equal": (1, 0), "Less": (1, 0), "LessOrEqual": (1, 0), "Greater": (1, 0), "GreaterOrEqual": (1, 0),
    "And": (1, 0), "Or": (1, 0), "Xor": (1, 0), "BitShift": (1, 0),
    "BitwiseAnd": (1, 0), "BitwiseOr": (1, 0), "BitwiseXor": (1, 0),
    "Where": (1, 0),             # select
}

for _op, (_flops, _special) in PER_ELEMENT.items():
    register(_op)(per_output_element(_flops, _special))

register("Sum", "Max", "Min")(variadic_per_output_element())
register("Mean")(variadic_per_output_element(extra=1))  # k - 1 adds and a divide


@register("Clip")
def clip(ctx: NodeContext) -> OpCost:
    """Clip: one min or max per bound given, per output element."""
    # one min or max per bound: both before opset 11 (attributes with defaults), else the inputs given
    bounds = 2 if ctx.opset < 11 else sum(1 for index in (1, 2) if ctx.has_input(index))
    return OpCost(flops=bounds * ctx.out_numel(0))


@register("Gelu")
def gelu(ctx: NodeContext) -> OpCost:
    """Gelu: 5 FLOPs per element (exact, with erf) or 9 (tanh approximation), one special op each."""
    # exact: x·0.5·(1 + erf(x/√2)) = divide, erf, add, 2 multiplies;
    # tanh: 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))) = 9 operations, one tanh.
    flops = 9 if ctx.attr("approximate", "none") == "tanh" else 5
    count = ctx.out_numel(0)
    return OpCost(flops=flops * count, special_ops=count)
