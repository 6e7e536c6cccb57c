"""The grouped-plus-shuffle rewrite: the block decomposition alone (numpy), then end to end in onnxruntime.

Hand formulas (N = 1, P = output positions, K = kernel elements, M = G·G·r):
dense conv P·Cout·Cin·K; grouped form P·(M·(Cin/G)·K + Cout·(M/G)) = P·G·r·(Cin·K + Cout).
"""

import numpy as np
import onnx
import pytest

import onnxcost
from onnxcost import passes
from onnxcost.passes import Energy, Exact, Rank, Selection, TargetMacs
from onnxcost.passes.block_factorize import (
    GroupedFactors, block_matrices, block_svd, channel_shuffle_permutation, compose_grouped,
)
from onnxcost.validation import run, session

from support.conv_cases import GROUPED_CONVS
from support.rewrite_models import finish, resnet_block, single_conv


# --- numpy: a conv, the shuffle, and the three-op chain, written out here ------------------------------------

def conv_nd(x, w, group=1, stride=None, dilation=None):
    """Conv without padding, any spatial rank, by summing shifted strided slices (the definition, no im2col)."""
    n = x.shape[0]
    cout, cin_g = w.shape[:2]
    kernel = w.shape[2:]
    d = len(kernel)
    stride = stride or (1,) * d
    dilation = dilation or (1,) * d
    out_sp = [(x.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(d)]
    y = np.zeros((n, cout, *out_sp))
    cout_g = cout // group
    for g in range(group):
        xs = x[:, g * cin_g:(g + 1) * cin_g]
        ws = w[g * cout_g:(g + 1) * cout_g]
        for offset in np.ndindex(*kernel):
            index = tuple(slice(offset[i] * dilation[i], offset[i] * dilation[i] + stride[i] * (out_sp[i] - 1) + 1, stride[i])
                          for i in range(d))
            y[:, g * cout_g:(g + 1) * cout_g] += np.einsum("nc...,oc->no...", xs[(slice(None), slice(None), *index)],
                                                            ws[(slice(None), slice(None), *offset)])
    return y


def shuffle(x, groups):
    """The exporters' channel shuffle: Reshape [N, G, C/G, *S], Transpose [0, 2, 1, ...], Reshape back."""
    n, c, *spatial = x.shape
    axes = list(range(x.ndim + 1))
    axes[1], axes[2] = 2, 1
    return x.reshape(n, groups, c // groups, *spatial).transpose(axes).reshape(x.shape)


def chain(x, factors: GroupedFactors, stride=None, dilation=None):
    g = factors.groups
    middle = conv_nd(x, factors.spatial.astype(np.float64), g, stride, dilation)
    pointwise = factors.pointwise.reshape(*factors.pointwise.shape, *([1] * (x.ndim - 2))).astype(np.float64)
    return conv_nd(shuffle(middle, g), pointwise, g)


KERNELS = {
    "1x1": dict(cout=8, cin=12, kernel=(1, 1), spatial=(5, 6)),
    "3x3": dict(cout=8, cin=12, kernel=(3, 3), spatial=(7, 6)),
    "3x3-strided": dict(cout=8, cin=4, kernel=(3, 3), spatial=(9, 8), stride=(2, 3)),
    "3x3-dilated": dict(cout=12, cin=8, kernel=(3, 3), spatial=(9, 9), dilation=(2, 1)),
    "5-1d-strided-dilated": dict(cout=8, cin=8, kernel=(5,), spatial=(23,), stride=(2,), dilation=(3,)),
    "2x3x3-3d": dict(cout=4, cin=8, kernel=(2, 3, 3), spatial=(4, 5, 5)),
}


@pytest.mark.parametrize("groups", [1, 2, 4])
@pytest.mark.parametrize("case", sorted(KERNELS))
def test_full_rank_reproduces_the_dense_conv(case, groups):
    spec = KERNELS[case]
    rng = np.random.default_rng(0)
    w = rng.standard_normal((spec["cout"], spec["cin"], *spec["kernel"]))
    x = rng.standard_normal((2, spec["cin"], *spec["spatial"]))
    d = block_svd(w, groups)
    k = int(np.prod(spec["kernel"]))
    assert d.max_rank == min(spec["cout"] // groups, spec["cin"] // groups * k)
    assert d.exact_rank == d.max_rank  # random weights: every block has full rank
    factors = d.factors(d.max_rank)
    assert factors.middle == groups * groups * d.max_rank
    np.testing.assert_allclose(compose_grouped(factors), w, atol=1e-10)
    dense = conv_nd(x, w, 1, spec.get("stride"), spec.get("dilation"))
    through = chain(x, factors, spec.get("stride"), spec.get("dilation"))
    assert np.abs(through - dense).max() < 1e-9 * np.abs(dense).max()


def hand_blocks(w, groups):
    """Blocks by explicit slicing, independent of block_matrices."""
    cout, cin = w.shape[:2]
    a, b = cout // groups, cin // groups
    return {(p, q): w[p * a:(p + 1) * a, q * b:(q + 1) * b].reshape(a, -1) for p in range(groups) for q in range(groups)}


@pytest.mark.parametrize("groups, kernel", [(1, (3, 3)), (2, (3, 3)), (4, (1, 1)), (4, (3, 3)), (2, (5,))])
def test_error_at_rank_r_is_the_root_of_the_discarded_singular_values(groups, kernel):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((16, 8, *kernel))
    d = block_svd(w, groups)
    blocks = hand_blocks(w, groups)
    for r in range(1, d.max_rank + 1):
        discarded = sum((np.linalg.svd(block, compute_uv=False)[r:] ** 2).sum() for block in blocks.values())
        approx = compose_grouped(d.factors(r))
        error = np.linalg.norm(approx - w)
        assert error == pytest.approx(np.sqrt(discarded), rel=1e-9, abs=1e-9)
        assert d.squared_error(r) == pytest.approx(discarded, rel=1e-9, abs=1e-9)
    assert d.squared_norm == pytest.approx((w ** 2).sum(), rel=1e-12)


def test_no_random_factorization_of_the_same_structure_does_better():
    """Against random factors, and against the best 1x1 weights for a random r-dim subspace of filters per block."""
    rng = np.random.default_rng(2)
    groups, r = 2, 3
    w = rng.standard_normal((8, 8, 3, 3))
    d = block_svd(w, groups)
    optimal = np.linalg.norm(compose_grouped(d.factors(r)) - w)
    blocks = hand_blocks(w, groups)
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        shape = d.factors(r)
        factors = GroupedFactors(spatial=rng.standard_normal(shape.spatial.shape),
                                 pointwise=rng.standard_normal(shape.pointwise.shape), rank=r, groups=groups)
        guess = compose_grouped(factors)
        scale = (guess * w).sum() / (guess * guess).sum()  # the best multiple of it
        assert optimal < np.linalg.norm(scale * guess - w)
        # Random filters V (r x b·K) per block, then the least-squares 1x1 weights U = B V⁺: still no better.
        error = 0.0
        for block in blocks.values():
            v = rng.standard_normal((r, block.shape[1]))
            u = block @ np.linalg.pinv(v)
            error += ((block - u @ v) ** 2).sum()
        assert optimal < np.sqrt(error)


def block_weight(groups, a, b, make_block):
    """3x3 conv weights W[G·a, G·b] whose every (output group p, input group q) block, as an a x (b·9) matrix,
    is a fresh ``make_block()``, p then q."""
    w = np.zeros((groups * a, groups * b, 3, 3))
    for p in range(groups):
        for q in range(groups):
            w[p * a:(p + 1) * a, q * b:(q + 1) * b] = make_block().reshape(a, b, 3, 3)
    return w


def test_exact_rank_of_low_rank_blocks():
    rng = np.random.default_rng(3)
    groups, a, b = 2, 6, 4
    w = block_weight(groups, a, b, lambda: rng.standard_normal((a, 2)) @ rng.standard_normal((2, b * 9)))  # rank 2
    d = block_svd(w.astype(np.float32), groups)
    assert d.max_rank == 6 and d.exact_rank == 2
    assert d.squared_error(2) < 1e-9 * d.squared_norm
    np.testing.assert_allclose(compose_grouped(d.factors(2)), w, atol=1e-4)


def test_block_layout_and_shuffle_permutation():
    w = np.arange(4 * 6 * 2).reshape(4, 6, 2).astype(float)
    blocks = block_matrices(w, 2)
    assert blocks.shape == (2, 2, 2, 6)
    np.testing.assert_array_equal(blocks[1, 0], w[2:4, 0:3].reshape(2, 6))
    x = np.arange(12).reshape(1, 12, 1, 1)
    perm = channel_shuffle_permutation(12, 3)
    np.testing.assert_array_equal(shuffle(x, 3)[0, :, 0, 0], perm)
    assert list(perm[:4]) == [0, 4, 8, 1]
    with pytest.raises(ValueError, match="must divide"):
        block_matrices(np.zeros((6, 4, 3, 3)), 4)
    with pytest.raises(ValueError, match="rank must be in"):
        block_svd(np.ones((4, 4, 3, 3)), 2).factors(19)


def test_float16_weights_keep_their_dtype():
    w = np.random.default_rng(4).standard_normal((8, 8, 3, 3)).astype(np.float16)
    factors = block_svd(w, 2).factors(2)
    assert factors.spatial.dtype == np.float16 and factors.pointwise.dtype == np.float16


# --- end to end in onnxruntime --------------------------------------------------------------------------------

def grouped_macs(positions, cin, cout, k, groups, rank):
    return positions * groups * rank * (cin * k + cout)


@pytest.mark.parametrize("groups, emission", [(2, "shuffle"), (4, "gather"), (4, "shuffle")])
def test_resnet_block_exact_in_onnxruntime(groups, emission):
    result = passes.grouped(resnet_block(), groups, Exact(), emission=emission)
    assert result.comparison.worst_rel_l2_error < 1e-5
    layers = {l.name: l for l in result.plan.layers}
    assert [l.name for l in result.plan.rewritten] == ["conv_a", "conv_b", "conv_s"]  # the 1x1 shortcut too
    assert layers["conv_a"].folded == ["bn_a"] and layers["conv_s"].folded == ["bn_s"]
    assert [n.op_type for n in result.model.graph.node].count("BatchNormalization") == 0
    # conv_a: 16 -> 32, 3x3 stride 2 on 16x16 -> 8x8; blocks (32/G) x (16/G·9): exact rank 32/G, M = 32·G.
    a = layers["conv_a"]
    assert a.rank == 32 // groups and a.macs_before == 64 * 32 * 16 * 9
    assert a.macs_after == grouped_macs(64, 16, 32, 9, groups, 32 // groups) == 64 * 32 * (16 * 9 + 32)
    assert a.params_after == 32 * groups * (16 // groups) * 9 + 32 * 32 + 32  # gconv + gpw + the folded bias
    # conv_s, 1x1 16 -> 32: blocks (32/G) x (16/G), exact rank 16/G: min(32, 16)·(16 + 32) MACs per position.
    assert layers["conv_s"].rank == 16 // groups and layers["conv_s"].macs_after == 64 * 16 * (16 + 32)
    assert result.report.totals.macs == result.plan.macs_after
    assert result.report.totals.params == result.plan.params_after
    assert result.report.totals.memory_traffic_bytes == result.plan.traffic_after
    names = {n.name: n for n in result.model.graph.node}
    gconv = names["conv_a/gconv"]
    attrs = {x.name: onnx.helper.get_attribute_value(x) for x in gconv.attribute}
    assert attrs["group"] == groups and attrs["strides"] == [2, 2] and attrs["pads"] == [1, 1, 1, 1]
    gpw = names["conv_a/gpw"]
    assert {x.name: onnx.helper.get_attribute_value(x) for x in gpw.attribute}["group"] == groups and len(gpw.input) == 3
    shuffle_ops = ["Reshape", "Transpose", "Reshape"] if emission == "shuffle" else ["Gather"]
    ops = [n.op_type for n in result.model.graph.node]
    assert ops[:2 + len(shuffle_ops)] == ["Conv", *shuffle_ops, "Conv"]
    assert a.nodes == ["conv_a/gconv", *(["conv_a/shuffle.split", "conv_a/shuffle.transpose"] if emission == "shuffle" else []),
                       "conv_a/shuffle", "conv_a/gpw"]


def test_the_shuffle_shapes_are_what_exporters_write():
    result = passes.grouped(single_conv(8, 16, [3, 3], [10, 12], pads=[1] * 4), 2, Rank(3), emission="shuffle")
    inits = {t.name: list(onnx.numpy_helper.to_array(t)) for t in result.model.graph.initializer}
    assert inits["conv/shuffle.split.shape"] == [0, 2, 6, 10, 12]  # M = 2·2·3 = 12: [N (copied), G, M/G, H, W]
    assert inits["conv/shuffle.shape"] == [0, 12, 10, 12]
    transpose = next(n for n in result.model.graph.node if n.op_type == "Transpose")
    assert onnx.helper.get_attribute_value(transpose.attribute[0]) == [0, 2, 1, 3, 4]


@pytest.mark.parametrize("emission", ["shuffle", "gather"])
@pytest.mark.parametrize("case", sorted(GROUPED_CONVS))
def test_exact_on_every_kind_of_conv(case, emission):
    spec = GROUPED_CONVS[case]
    result = passes.grouped(single_conv(**spec), 4, Exact(), emission=emission)
    (layer,) = result.plan.layers
    assert layer.rewrite and layer.emission == emission
    assert result.comparison.worst_rel_l2_error < 1e-5, case
    k = int(np.prod(spec["kernel"]))
    assert layer.rank == min(spec["cout"] // 4, spec["cin"] // 4 * k)
    out = result.report.model.outputs[0].shape
    positions = int(np.prod(out[2:])) * out[0]
    assert layer.macs_before == positions * spec["cout"] * spec["cin"] * k
    assert result.report.totals.macs == layer.macs_after == grouped_macs(positions, spec["cin"], spec["cout"], k, 4, layer.rank)


def test_low_rank_pair_is_grouped_1():
    result = passes.grouped(single_conv(8, 16, [3, 3], [10, 10], pads=[1] * 4), 1, Rank(5))
    (layer,) = result.plan.layers
    assert result.plan.structure == "low-rank pair" and layer.emission == "no shuffle"
    assert [n.op_type for n in result.model.graph.node] == ["Conv", "Conv"]
    assert layer.macs_after == 100 * 5 * (8 * 9 + 16)
    # Exact: the rank of W as a 16 x 72 matrix.
    result = passes.grouped(single_conv(8, 16, [3, 3], [10, 10], pads=[1] * 4), 1, Exact())
    assert result.plan.layers[0].rank == 16 and result.comparison.worst_rel_l2_error < 1e-5


def test_rank_mode_hand_counts_and_the_must_save_rule():
    """16 -> 32 3x3 on 8x8 (conv_b of the block): rank r per block costs 64·G·r·(32·9 + 32)."""
    plan = passes.Rewriter(resnet_block(), passes.Grouped(2)).plan(Rank(3), emission="shuffle")
    layers = {l.name: l for l in plan.layers}
    assert layers["conv_b"].macs_after == 64 * 2 * 3 * (32 * 9 + 32) == 122_880
    assert layers["conv_b"].params_after == 2 * 2 * 3 * 16 * 9 + 32 * 6 + 32
    # conv_s (1x1, 16 -> 32) at rank 3, G = 2: 64·2·3·(16 + 32) = 18,432 < 32,768: rewritten.
    assert layers["conv_s"].rewrite and layers["conv_s"].macs_after == 18_432
    # Rank 6 is the full rank of conv_s's blocks (16 x 8); 64·2·6·48 = 36,864 > 32,768: left as it is.
    plan = passes.Rewriter(resnet_block(), passes.Grouped(2)).plan(Rank(6), emission="shuffle")
    s = next(l for l in plan.layers if l.name == "conv_s")
    assert not s.rewrite and "would not reduce MACs" in s.reason and s.rank == 6


def test_g_must_divide_cin_and_cout_else_the_conv_is_skipped_and_listed():
    rng = np.random.default_rng(0)
    weights = {"a.weight": rng.standard_normal((12, 8, 3, 3)).astype(np.float32),
               "b.weight": rng.standard_normal((6, 12, 3, 3)).astype(np.float32),
               "c.weight": rng.standard_normal((12, 3, 3, 3)).astype(np.float32)}
    nodes = [onnx.helper.make_node("Conv", ["x", "a.weight"], ["a"], name="a", pads=[1] * 4),
             onnx.helper.make_node("Conv", ["a", "b.weight"], ["b"], name="b", pads=[1] * 4),
             onnx.helper.make_node("Conv", ["b", "c.weight"], ["y"], name="c", group=2, pads=[1] * 4)]
    model = finish(nodes, {"x": [1, 8, 6, 6]}, ["y"], weights)
    result = passes.grouped(model, 4, Rank(1), emission="shuffle")
    reasons = {l.name: l.reason for l in result.plan.layers}
    assert reasons == {"a": None, "b": "G=4 does not divide Cin=12 and Cout=6",
                       "c": "already grouped (group 2): the grouped rewrite takes dense convs"}


def test_energy_mode_on_a_known_block_spectrum():
    """Every block has singular values (3, 2, 1): energy 0.9 needs r = 2 (13/14 kept)."""
    rng = np.random.default_rng(5)
    groups, a, b = 2, 8, 4

    def spectrum_321():
        u, _ = np.linalg.qr(rng.standard_normal((a, 3)))
        v, _ = np.linalg.qr(rng.standard_normal((b * 9, 3)))
        return (u * [3, 2, 1]) @ v.T
    w = block_weight(groups, a, b, spectrum_321)
    model = single_conv(8, 16, [3, 3], [10, 10], weight=w.astype(np.float32), pads=[1] * 4)
    result = passes.grouped(model, 2, Energy(0.9), emission="gather")
    (layer,) = result.plan.layers
    assert layer.rank == 2 and layer.exact_rank == 3 and layer.max_rank == 8
    assert layer.kept_energy == pytest.approx(13 / 14, rel=1e-5)
    assert layer.weight_rel_error == pytest.approx(np.sqrt(1 / 14), rel=1e-4)
    result = passes.grouped(model, 2, Exact(), emission="gather")
    assert result.plan.layers[0].rank == 3 and result.comparison.worst_rel_l2_error < 1e-5
    assert result.plan.macs_after < result.plan.macs_before  # low-rank blocks: exact mode saves


def test_target_macs_on_the_block():
    model = resnet_block()
    before = onnxcost.analyze_model(model).totals.macs
    result = passes.grouped(model, 2, TargetMacs(ratio=0.5), emission="shuffle")
    assert result.plan.macs_after <= before // 2 == result.plan.budget
    assert result.report.totals.macs == result.plan.macs_after


def test_memory_traffic_of_the_shuffle_by_hand():
    """x [1, 8, 10, 10] float32 -> conv 8 -> 16 3x3 pad 1 (bias), G = 2, rank 1: M = 4 middle channels.

    Bytes read + written per node (inputs incl. weights and shape constants, outputs): the middle tensor is
    4·100·4 = 1,600 B; x 3,200 B; y 6,400 B.
    """
    result = passes.grouped(single_conv(8, 16, [3, 3], [10, 10], pads=[1] * 4), 2, Rank(1), emission="shuffle")
    rows = {row.name: row for row in result.report.nodes}
    middle = 4 * 100 * 4
    assert rows["conv/gconv"].memory_traffic_bytes == 3200 + 4 * 4 * 9 * 4 + middle
    assert rows["conv/shuffle.split"].memory_traffic_bytes == middle + 5 * 8 + middle
    assert rows["conv/shuffle.transpose"].memory_traffic_bytes == 2 * middle
    assert rows["conv/shuffle"].memory_traffic_bytes == middle + 4 * 8 + middle
    assert rows["conv/gpw"].memory_traffic_bytes == middle + 16 * 2 * 4 + 16 * 4 + 6400
    assert all(rows[n].macs == 0 for n in ("conv/shuffle.split", "conv/shuffle.transpose", "conv/shuffle"))
    (layer,) = result.plan.layers
    assert layer.traffic_after == sum(rows[n].memory_traffic_bytes for n in layer.nodes)
    assert layer.traffic_before == 3200 + 16 * 8 * 9 * 4 + 16 * 4 + 6400
    # The Gather reads only what it copies (plus its indices).
    result = passes.grouped(single_conv(8, 16, [3, 3], [10, 10], pads=[1] * 4), 2, Rank(1), emission="gather")
    rows = {row.name: row for row in result.report.nodes}
    assert rows["conv/shuffle"].op_type == "Gather" and rows["conv/shuffle"].memory_traffic_bytes == middle + 4 * 8 + middle


def test_dynamic_batch_keeps_the_shuffle_and_dynamic_spatial_dims_take_the_gather():
    rng = np.random.default_rng(6)
    w = {"conv.weight": rng.standard_normal((16, 8, 3, 3)).astype(np.float32)}
    node = onnx.helper.make_node("Conv", ["x", "conv.weight"], ["y"], name="conv", pads=[1] * 4)
    for shape, expected, other in ((["n", 8, 10, 10], "shuffle", (3, 8, 10, 10)), ([1, 8, "h", "w"], "gather", (1, 8, 13, 7))):
        model = finish([node], {"x": shape}, ["y"], w)
        rewriter = passes.Rewriter(model, passes.Grouped(2), inputs={"x": [1, 8, 10, 10]})
        site = rewriter.sites["conv"]
        assert passes.Grouped(2).variants(site, 1) == ((expected, "gather") if expected == "shuffle" else ("gather",))
        plan = rewriter.plan(Exact(), emission="shuffle")
        assert plan.layers[0].emission == expected
        if expected == "gather":
            assert plan.layers[0].note == "'shuffle' emission not available here; gather"
        rewritten, _ = rewriter.apply(plan)
        x = {"x": rng.standard_normal(other).astype(np.float32)}
        a, b = run(session(model), x)["y"], run(session(rewritten), x)["y"]
        assert np.linalg.norm(b - a) / np.linalg.norm(a) < 1e-5


def fake_timer(times):
    def timer(models, feeds):
        return {key: times[key] for key in models}
    return timer


def test_auto_emission_times_the_two_shuffles():
    for faster, times in (("gather", {"shuffle": 2.0, "gather": 1.0}), ("shuffle", {"shuffle": 1.0, "gather": 1.5}),
                          ("shuffle", {"shuffle": 1.04, "gather": 1.0})):  # within 5%: the exporters' form
        plan = passes.Rewriter(resnet_block(), passes.Grouped(2)).plan(Rank(1), timer=fake_timer(times))
        assert [l.emission for l in plan.rewritten] == [faster] * 3


def test_compare_puts_the_rivals_at_the_same_macs():
    """conv_b (32 -> 32, 3x3, 8x8 out) at G = 2, rank 2: 64·2·2·(288 + 32) = 81,920 MACs.

    Separable at rank s costs 64·s·(32·9 + 32·32) = 83,968·s: no rank fits, as s = 1 is over.
    Low-rank pair at rank t costs 64·t·(288 + 32) = 20,480·t: t = 4, error by the SVD of W as 32 x 288.
    """
    rewriter = passes.Rewriter(resnet_block(), passes.Grouped(2))
    plan = rewriter.plan(Rank(2), emission="shuffle", compare=True)
    b = next(l for l in plan.layers if l.name == "conv_b")
    assert b.macs_after == 81_920
    alternatives = {a.structure: a for a in b.alternatives}
    assert alternatives["separable"].rank is None and "rank 1 costs 83.97 K MACs > 81.92 K" in alternatives["separable"].reason
    pair = alternatives["low-rank pair"]
    assert pair.rank == 4 and pair.macs == 81_920
    w = rewriter.sites["conv_b"].weight.astype(np.float64).reshape(32, -1)
    s = np.linalg.svd(w, compute_uv=False)
    assert pair.weight_rel_error == pytest.approx(np.sqrt((s[4:] ** 2).sum() / (s ** 2).sum()), rel=1e-6)
    assert b.least_error in ("grouped G=2", "low-rank pair")
    # conv_a (16 -> 32, 8x8 out) at rank 2: 64·2·2·(144 + 32) = 45,056; separable rank 1 = 64·(144 + 512) = 41,984 fits.
    a = next(l for l in plan.layers if l.name == "conv_a")
    sep = next(x for x in a.alternatives if x.structure == "separable")
    assert sep.rank == 1 and sep.macs == 41_984
    separable = passes.Separable().decompose(rewriter.sites["conv_a"])
    assert sep.weight_rel_error == pytest.approx(np.sqrt(separable.squared_error(1) / separable.squared_norm))
    s_ = next(l for l in plan.layers if l.name == "conv_s")
    assert next(x for x in s_.alternatives if x.structure == "separable").reason == "1x1 kernel: nothing to separate"
    assert any("the least weight error" in note for note in plan.notes)
    # Without compare (the default) nothing is computed.
    assert all(l.alternatives == [] for l in rewriter.plan(Rank(2), emission="shuffle").layers)


@pytest.mark.parametrize("make, message", [
    (lambda: passes.Grouped(0), "groups must be an integer >= 1"),
    (lambda: passes.Rewriter(resnet_block(), passes.Grouped(2)).plan(Rank(1), emission="multiplier"),
     "emission multiplier: the grouped G=2 rewrite writes shuffle or gather"),
])
def test_bad_options_are_input_errors(make, message):
    with pytest.raises(onnxcost.OnnxcostError, match=message.replace("(", r"\(")) as info:
        make()
    assert info.value.exit_code == 2
    assert str(info.value).startswith(info.value.parameter)  # the CLI puts the flag in its place


def test_selection_applies_as_for_the_separable_pass():
    plan = passes.Rewriter(resnet_block(), passes.Grouped(2)).plan(Rank(1), Selection(exclude=("conv_s",)), emission="shuffle")
    assert [l.name for l in plan.rewritten] == ["conv_a", "conv_b"]
    assert next(l for l in plan.layers if l.name == "conv_s").reason == "matched by exclude"
