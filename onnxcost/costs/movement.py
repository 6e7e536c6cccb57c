"""Data movement: zero FLOPs, real memory traffic (inputs read, outputs written).

Exceptions to "every input is read in full": Shape and Size read only
metadata; Gather, GatherElements, GatherND and Slice read only what they
copy (output bytes, plus their indices), so an embedding lookup does not
count the whole table as traffic (its elements still count as parameters).
"""

from __future__ import annotations

from .registry import NodeContext, OpCost, register

register(
    "Concat", "Split", "SplitToSequence", "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze",
    "Expand", "Tile", "Cast", "CastLike", "Identity", "Dropout", "DepthToSpace", "SpaceToDepth",
    "ScatterND", "ScatterElements", "Scatter", "ConstantOfShape", "Range", "NonZero", "OneHot", "Trilu",
    "Compress", "ReverseSequence", "EyeLike", "Optional", "OptionalGetElement", "OptionalHasElement",
    "SequenceConstruct", "SequenceAt", "SequenceInsert", "SequenceLength", "ConcatFromSequence",
)(lambda ctx: OpCost())

register("Pad", non_weight_inputs=(1, 2, 3))(lambda ctx: OpCost())


@register("Shape", "Size")
def metadata_only(ctx: NodeContext) -> OpCost:
    """Shape, Size: they read only the input's metadata, no bytes."""
    return OpCost(bytes_read=0)


def _copied(ctx: NodeContext, index_inputs: range) -> OpCost:
    read = ctx.out_bytes(0) + sum(ctx.in_bytes(i) for i in index_inputs if ctx.has_input(i))
    return OpCost(bytes_read=read)


@register("Gather", "GatherElements", "GatherND")
def gather(ctx: NodeContext) -> OpCost:
    """Gather*: they read what they copy (the output's bytes) and their indices, not the whole data."""
    return _copied(ctx, range(1, 2))


@register("Slice")
def slice_(ctx: NodeContext) -> OpCost:
    """Slice: it reads what it copies (the output's bytes) and its starts/ends/axes/steps."""
    return _copied(ctx, range(1, len(ctx.node.input)))
