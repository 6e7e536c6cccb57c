"""passes/budget.py: the rank per layer that saves the MACs asked for with the least summed error.

Every expected allocation is found by hand: list each layer's savings (dense MACs - MACs at the
rank) and errors, try every combination that saves enough, keep the one of least total error.
Errors are binary fractions (1/2, 1/4, 1/8, ...) so their sums are exact.
"""

from __future__ import annotations

import pytest

from onnxcost.passes.budget import Allocation, LayerOptions, RankOption, Unreachable, allocate


def test_two_layers_the_least_error_that_saves_enough():
    # a: rank 4 saves 20 (error 1/16), rank 2 saves 60 (1/4), rank 1 saves 80 (1/2)
    # b: rank 2 saves 40 (1/8), rank 1 saves 70 (3/8)
    # Saving >= 100: a2 + b2 = 100 (1/4 + 1/8 = 3/8), a2 + b1 = 130 (5/8), a1 + b2 = 120 (5/8),
    # a1 + b1 = 150 (7/8); a4 + b1 = 90 and a1 alone = 80 fall short. Least: a2 + b2.
    layers = {
        "a": LayerOptions(100, [RankOption(1, 20, 0.5), RankOption(2, 40, 0.25), RankOption(4, 80, 0.0625)]),
        "b": LayerOptions(100, [RankOption(1, 30, 0.375), RankOption(2, 60, 0.125)]),
    }
    assert allocate(layers, 100) == Allocation(ranks={"a": 2, "b": 2}, saved=100, error=0.375)


def test_three_layers_an_overshoot_is_taken_back():
    # a: rank 2 saves 64 - 32 = 32 (1/8), rank 1 saves 48 (1/2); b: rank 1 saves 48 (1/4);
    # c: rank 1 saves 32 - 8 = 24 (1/16). Saving >= 80: a2 + b = 80 (3/8), a2 + b + c = 104 (7/16),
    # a1 + b = 96 (3/4), a1 + b + c = 120 (13/16); a1 + c = 72, b + c = 72, a2 + c = 56 fall short.
    # Least: a2 + b, c left dense. (The cheapest error per MAC saved comes first: c at 1/16 / 24,
    # a2 at 1/8 / 32, b at 1/4 / 48; after b 104 are saved, and dropping c back to dense still saves 80.)
    layers = {
        "a": LayerOptions(64, [RankOption(1, 16, 0.5), RankOption(2, 32, 0.125)]),
        "b": LayerOptions(64, [RankOption(1, 16, 0.25)]),
        "c": LayerOptions(32, [RankOption(1, 8, 0.0625)]),
    }
    assert allocate(layers, 80) == Allocation(ranks={"a": 2, "b": 1, "c": None}, saved=80, error=0.375)


def test_a_rank_off_the_convex_hull_can_end_the_allocation():
    # a: rank 3 saves 30 (1/8), rank 1 saves 100 (1/4); b: rank 1 saves 50 - 40 = 10 (1/2).
    # Saving >= 30: a3 = 30 (1/8), a1 = 100 (1/4), a3 + b = 40 (5/8), a1 + b = 110 (3/4). Least: a3.
    # (Per MAC saved, a1 costs 1/400 and a3 1/240: a1 is taken first, then a3 holds the budget with less error.)
    layers = {
        "a": LayerOptions(100, [RankOption(3, 70, 0.125), RankOption(1, 0, 0.25)]),
        "b": LayerOptions(50, [RankOption(1, 40, 0.5)]),
    }
    assert allocate(layers, 30) == Allocation(ranks={"a": 3, "b": None}, saved=30, error=0.125)


def test_ranks_that_save_nothing_are_never_chosen():
    # a's rank 8 has no error but 100 MACs, as many as dense: it saves nothing. Saving >= 10 needs rank 1
    # (saves 100 - 90 = 10, error 1/2).
    layers = {"a": LayerOptions(100, [RankOption(8, 100, 0.0), RankOption(1, 90, 0.5)])}
    assert allocate(layers, 10) == Allocation(ranks={"a": 1}, saved=10, error=0.5)


def test_nothing_needed_leaves_every_layer_dense():
    layers = {"a": LayerOptions(100, [RankOption(1, 20, 0.5)]), "b": LayerOptions(10, [])}
    assert allocate(layers, 0) == Allocation(ranks={"a": None, "b": None}, saved=0, error=0.0)


def test_unreachable_says_the_most_that_can_be_saved():
    # Each layer's cheapest rank: a saves 100 - 20 = 80, b 50 - 30 = 20; c's only rank costs more than
    # dense (saves nothing). At most 80 + 20 = 100 can be saved: 101 cannot.
    layers = {
        "a": LayerOptions(100, [RankOption(2, 40, 0.125), RankOption(1, 20, 0.5)]),
        "b": LayerOptions(50, [RankOption(1, 30, 0.25)]),
        "c": LayerOptions(10, [RankOption(1, 12, 0.0)]),
    }
    with pytest.raises(Unreachable, match=r"^needs 101 MACs saved, at most 100 can be$") as caught:
        allocate(layers, 101)
    assert (caught.value.needed, caught.value.best) == (101, 100)
    assert allocate(layers, 100) == Allocation(ranks={"a": 1, "b": 1, "c": None}, saved=100, error=0.75)
