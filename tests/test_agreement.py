"""onnxcost.validation.agreement: task-level agreement (top-1/top-5, mask IoU, CTC sequences), counted by hand."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import onnxcost
from onnxcost.datasets import ArrayDataset
from onnxcost.validation import Bounds
from onnxcost.validation.agreement import AgreementCounter, AgreementOptions, TaskError, choose_task, ctc_decode
from onnxcost.validation.comparison import compare_arrays

from support.builders import model


@pytest.mark.parametrize("shape, task, chosen", [
    ((4, 10), "auto", "classify"),
    ((4, 1), "auto", None),  # one class: nothing to agree on
    ((4, 1, 8, 8), "auto", "mask"),
    ((4, 3, 8, 8), "auto", None),
    ((4, 40, 97), "auto", "sequence"),
    ((4, 8, 8), "mask", "mask"),  # N x H x W is a mask only when the user says so
    ((4, 10), "mask", None),
    ((4, 40, 97), "none", None),
])
def test_the_task_is_chosen_by_shape_or_by_the_user(shape, task, chosen):
    assert choose_task(shape, task) == chosen


def test_ctc_decoding_merges_repeats_then_drops_the_blank():
    steps = [0, 3, 3, 0, 3, 5, 5, 0]
    assert ctc_decode(steps, blank=0) == (3, 3, 5)  # 3 3 | 0 | 3 | 5 5 -> 3, 3, 5 (the blank separates the two 3s)
    assert ctc_decode(steps, blank=None) == (0, 3, 0, 3, 5, 0)
    assert ctc_decode([], blank=0) == ()


def test_top1_and_top5_agreement_counted_by_hand():
    a = np.zeros((4, 7))
    a[np.arange(4), [0, 1, 2, 3]] = 1.0  # the reference picks classes 0, 1, 2, 3
    b = np.tile(np.arange(7, dtype=float), (4, 1))  # the candidate ranks 6 > 5 > 4 > 3 > 2 > 1 > 0 for every row
    b[0, 0] = 10.0  # row 0: the candidate's best is 0 too
    counter = AgreementCounter("classify")
    counter.add(a[:2], b[:2])  # two batches count as one
    counter.add(a[2:], b[2:])
    # top-1: only row 0 agrees -> 1/4. top-5 of b: row 0 {0, 6, 5, 4, 3}, others {6, 5, 4, 3, 2}:
    # row 0 (class 0) in, row 1 (class 1) out, row 2 (class 2) in, row 3 (class 3) in -> 3/4.
    assert counter.result() == {"task": "classify", "samples": 4, "top1": 0.25, "top5": 0.75}
    few = AgreementCounter("classify")
    few.add(a[:, :5], a[:, :5])
    assert few.result()["top5"] is None  # 5 classes: the top-5 always holds the class


def test_mask_iou_counted_by_hand():
    a = np.array([[[[0.9, 0.9], [0.1, 0.1]]], [[[0.6, 0.2], [0.2, 0.2]]]])  # on: (0,0,0), (0,0,1), (1,0,0)
    b = np.array([[[[0.9, 0.1], [0.9, 0.1]]], [[[0.6, 0.2], [0.2, 0.2]]]])  # on: (0,0,0), (0,1,0), (1,0,0)
    counter = AgreementCounter("mask", AgreementOptions(mask_threshold=0.5))
    counter.add(a, b)
    # intersection {(0,0,0), (1,0,0)} = 2, union of the four on-pixels = 4: IoU 0.5
    assert counter.result() == {"task": "mask", "samples": 2, "threshold": 0.5, "iou": 0.5, "intersection": 2, "union": 4}
    empty = AgreementCounter("mask", AgreementOptions(mask_threshold=0.95))
    empty.add(a, b)
    assert empty.result()["iou"] == 1.0  # nothing on in either: they agree


def one_hot(indices: list[list[int]], classes: int = 4) -> np.ndarray:
    return np.eye(classes)[np.array(indices)]  # N x T x C


def test_sequence_agreement_compares_decoded_strings():
    a = one_hot([[1, 1, 0, 2], [3, 0, 3, 3], [1, 2, 2, 0]])  # decoded: (1, 2), (3, 3), (1, 2)
    b = one_hot([[1, 0, 2, 2], [3, 3, 3, 3], [1, 1, 2, 1]])  # decoded: (1, 2), (3,), (1, 2, 1)
    counter = AgreementCounter("sequence")
    counter.add(a, b)
    assert counter.result() == {"task": "sequence", "samples": 3, "blank": 0, "equal": 1, "agreement": 1 / 3}
    no_blank = AgreementCounter("sequence", AgreementOptions(blank=None))
    no_blank.add(a, b)
    # blank None: (1, 0, 2) vs (1, 0, 2) equal; (3, 0, 3) vs (3,) not; (1, 2, 0) vs (1, 2, 1) not -> 1 of 3
    assert no_blank.result()["equal"] == 1


def test_options_out_of_range_are_refused():
    with pytest.raises(TaskError, match="task must be one of auto, classify, mask, sequence, none") as info:
        AgreementOptions(task="segment")
    assert info.value.parameter == "task"
    with pytest.raises(TaskError, match="blank must be a class index >= 0"):
        AgreementOptions(blank=-1)


def test_the_comparison_row_carries_the_agreement():
    a = np.array([[0.0, 1.0], [1.0, 0.0]])
    row, _ = compare_arrays("y", a, a[:, ::-1], Bounds(), AgreementOptions())
    assert row.top1_agreement == 0.0 and row.agreement == {"task": "classify", "samples": 2, "top1": 0.0, "top5": None}
    row, _ = compare_arrays("y", a, a, Bounds())  # no options: no task-level figures (the rewrite's default)
    assert row.agreement is None


def test_validate_over_many_samples_gives_mask_iou_and_sequences():
    # y = x + c on N x 1 x 2 x 2 maps: with c = 0.3 and threshold 0.5, a pixel of x in (0.2, 0.5] turns on in b.
    shift = model([helper.make_node("Add", ["x", "c"], ["y"])], {"x": ["n", 1, 2, 2]}, ["y"],
                  {"c": np.array([0.3], np.float32)})
    same = model([helper.make_node("Identity", ["x"], ["y"])], {"x": ["n", 1, 2, 2]}, ["y"])
    x = np.array([[0.9, 0.1, 0.4, 0.6]] * 3, np.float32).reshape(3, 1, 2, 2)  # per sample: a on {0.9, 0.6}
    result = onnxcost.validate(same, shift, feeds=ArrayDataset({"x": x}), batch_size=2)
    (row,) = result.comparison.outputs
    # b = x + 0.3 = 1.2, 0.4, 0.7, 0.9: on {1.2, 0.7, 0.9}; per sample intersection 2, union 3 -> 6 / 9
    assert row.agreement == {"task": "mask", "samples": 3, "threshold": 0.5, "iou": 6 / 9, "intersection": 6, "union": 9}
    assert result.comparison.samples == 3 and result.comparison.inputs == {"x": [2, 1, 2, 2]}  # batches of 2, then 1
    assert row.max_abs_error == pytest.approx(0.3)
    as_mask = onnxcost.validate(same, shift, feeds=ArrayDataset({"x": x}), agreement=AgreementOptions(task="none"))
    assert as_mask.comparison.outputs[0].agreement is None
