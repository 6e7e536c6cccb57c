"""Recurrent cells (RNN, GRU, LSTM), per time step, batch element and direction.

MACs = gates·H·(I + H) with gates 1 (RNN), 3 (GRU), 4 (LSTM): one dot product over
[x, h] per gate row, which includes adding the input and recurrent products.
FLOPs add the bias adds (2·gates·H when B is given) and the gate arithmetic per
hidden unit: RNN tanh (1, 1 special); GRU two sigmoids (4 each), r·(…), a tanh,
(1 - z)·h̃ + z·h (4) (14, 3 special); LSTM three sigmoids, two tanh,
c = f·c + i·g (3), h = o·tanh(c) (1) (18, 5 special), plus 3 multiplies and
3 adds for the peepholes when P is given.
"""

from __future__ import annotations

from .registry import NodeContext, OpCost, register

_GATES = {"RNN": (1, 1, 1), "GRU": (3, 14, 3), "LSTM": (4, 18, 5)}


@register("RNN", "GRU", "LSTM")
def recurrent(ctx: NodeContext) -> OpCost:
    """X [T, B, I] (layout 1: [B, T, I]), W [directions, gates·H, I]."""
    return recurrent_cells(ctx, ctx.node.op_type)


def recurrent_cells(ctx: NodeContext, cell: str, transposed: bool = False) -> OpCost:
    """The cost of ``cell`` ('RNN', 'GRU' or 'LSTM') cells over X (input 0) with weights W (1) [directions,
    gates·H, I] ([directions, I, gates·H] when ``transposed``), bias B (3) and, for an LSTM, peepholes P (7)."""
    gates, elementwise, special = _GATES[cell]
    x = ctx.in_shape(0, ranks=(3,))
    steps, batch = (x[1], x[0]) if ctx.attr("layout", 0) else (x[0], x[1])
    directions, gate_rows, inputs = ctx.in_shape(1, ranks=(3,))
    if transposed:
        gate_rows, inputs = inputs, gate_rows
    hidden = gate_rows // gates
    cells = steps * batch * directions
    macs = cells * gate_rows * (inputs + hidden)
    bias = cells * 2 * gate_rows if ctx.has_input(3) else 0
    if cell == "LSTM" and ctx.has_input(7):  # peepholes P·c for the i, f, o gates
        elementwise += 6
    return OpCost(
        macs=macs,
        flops=2 * macs + bias + cells * hidden * elementwise,
        special_ops=cells * hidden * special,
    )
