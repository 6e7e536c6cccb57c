"""Attention ops, where the opset or onnxruntime's contrib domain has them.

For B batches, H query heads, S query and T key positions, head sizes Dk, Dv:
MACs = B·H·S·T·(Dk + Dv) (Q·Kᵀ and P·V); per score one scale, one mask add
when a mask is given, and the softmax's exp, add, divide; one exp special op
per score. The com.microsoft Attention op also projects the input to Q, K, V;
bias inputs add one FLOP per biased element. Causal masking, rotary
embeddings and softcap are not counted. docs/conventions.md has the table.
"""

from __future__ import annotations

from .registry import NodeContext, OpCost, register

MICROSOFT = "com.microsoft"


def _core(batch: int, heads: int, queries: int, keys: int, key_size: int, value_size: int, masked: bool) -> OpCost:
    scores = batch * heads * queries * keys
    macs = scores * (key_size + value_size)
    per_score = 1 + (1 if masked else 0) + 3
    return OpCost(macs=macs, flops=2 * macs + per_score * scores, special_ops=scores)


@register("Attention")
def attention(ctx: NodeContext) -> OpCost:
    """ONNX Attention (opset 23): Q, K, V of rank 4 [B, H, S, D] or rank 3 [B, S, H·D]."""
    q = ctx.in_shape(0, ranks=(3, 4))
    k, v = ctx.in_shape(1, ranks=(len(q),)), ctx.in_shape(2, ranks=(len(q),))
    if len(q) == 4:
        batch, heads, queries, key_size = q
        value_size = v[3]
        keys = k[2]
    else:
        heads = ctx.attr("q_num_heads")
        kv_heads = ctx.attr("kv_num_heads")
        ctx.require(bool(heads) and bool(kv_heads) and heads > 0 and kv_heads > 0,
                    "Q, K and V of rank 3 need q_num_heads and kv_num_heads >= 1")
        batch, queries = q[0], q[1]
        key_size = q[2] // heads
        value_size = v[2] // kv_heads
        keys = k[1]
    if ctx.has_input(4):  # past_key [B, H_kv, P, D]
        keys += ctx.in_shape(4, ranks=(4,))[2]
    return _core(batch, heads, queries, keys, key_size, value_size, ctx.has_input(3))


def projected_attention(ctx: NodeContext, masks: tuple[int, ...], past: int) -> tuple[int, OpCost]:
    """com.microsoft Attention and QAttention: input (0) [B, S, Din] projected by the packed weights (1)
    [Din, Dq + Dk + Dv] plus the bias (2), then the core; any of the ``masks`` inputs given counts as the mask add,
    ``past`` [2, B, H, P, D] adds P keys. Returns (the projection's MACs, the whole cost)."""
    batch, queries, _ = ctx.in_shape(0)
    weights = ctx.in_shape(1)
    projection = batch * queries * weights[0] * weights[1]
    sizes = ctx.attr("qkv_hidden_sizes") or [weights[1] // 3] * 3
    heads = ctx.attr("num_heads")
    keys = queries
    if ctx.has_input(past):
        keys += ctx.in_shape(past)[3]
    masked = any(ctx.has_input(slot) for slot in masks)
    core = _core(batch, heads, queries, keys, sizes[0] // heads, sizes[2] // heads, masked)
    bias = batch * queries * weights[1] if ctx.has_input(2) else 0
    return projection, OpCost(macs=projection + core.macs, flops=2 * projection + bias + core.flops,
                              special_ops=core.special_ops)


@register("Attention", domain=MICROSOFT)
def ms_attention(ctx: NodeContext) -> OpCost:
    """com.microsoft Attention: input [B, S, Din], packed weights [Din, Dq + Dk + Dv]; mask_index (3)
    or attention_bias (5) count as the mask add, past (4) adds its length to the keys."""
    return projected_attention(ctx, masks=(3, 5), past=4)[1]


@register("MultiHeadAttention", domain=MICROSOFT)
def ms_multi_head_attention(ctx: NodeContext) -> OpCost:
    """com.microsoft MultiHeadAttention: query [B, S, H·Dk] or packed QKV [B, S, H, 3, D]; key
    [B, T, H·Dk], [B, H, T, Dk] or packed KV [B, T, H, 2, D]; value [B, T, H·Dv] or [B, H, T, Dv].
    The bias (3) adds one FLOP per projected Q, K and V element."""
    heads = ctx.attr("num_heads")
    query = ctx.in_shape(0)
    if len(query) == 5:  # packed QKV
        batch, queries, _, _, key_size = query
        keys, value_size = queries, key_size
    else:
        batch, queries, hidden = query
        key_size = value_size = hidden // heads
        key = ctx.in_shape(1)
        keys = key[2] if len(key) == 4 else key[1]
        if ctx.has_input(2):
            value = ctx.in_shape(2)
            value_size = value[3] if len(value) == 4 else value[2] // heads
    bias = batch * heads * (queries * key_size + keys * (key_size + value_size)) if ctx.has_input(3) else 0
    if ctx.has_input(6):  # past_key [B, H, P, D]
        keys += ctx.in_shape(6)[2]
    core = _core(batch, heads, queries, keys, key_size, value_size, ctx.has_input(4) or ctx.has_input(5))
    return OpCost(macs=core.macs, flops=core.flops + bias, special_ops=core.special_ops)


@register("GroupQueryAttention", domain=MICROSOFT)
def ms_group_query_attention(ctx: NodeContext) -> OpCost:
    """com.microsoft GroupQueryAttention: query [B, S, H·D] or packed [B, S, (H + 2·H_kv)·D].
    T = the total_sequence_length input (6) when its value is known, else present_key [B, H_kv, T, D]."""
    batch, queries, hidden = ctx.in_shape(0)
    heads = ctx.attr("num_heads")
    kv_heads = ctx.attr("kv_num_heads")
    head_size = hidden // (heads + 2 * kv_heads) if not ctx.has_input(1) else hidden // heads
    total = ctx.value(6)
    present = ctx.outputs[1] if len(ctx.outputs) > 1 else None
    if total is not None and total.size == 1:
        keys = int(total.reshape(()))
    elif present is not None and present.shape is not None:
        keys = present.shape[2]
    else:
        keys = queries
    return _core(batch, heads, queries, keys, head_size, head_size, False)
