"""onnxcost.training: the memory of a training step, term by term, checked by hand on VGG-16 (batch 1 and 32,
each optimizer, fp32 and mixed precision) and against the CS231n VGG-16 table."""

from __future__ import annotations

import json
import subprocess
import sys

import onnx
import pytest
from onnx import helper

import onnxcost
from onnxcost.training import TrainingError, training_memory
from support.builders import model, zeros

P = 138_357_544  # VGG-16's parameters (Simonyan & Zisserman; CS231n: "138M parameters"), fp32
# Values per image: the 224x224x3 image, then every node's outputs (conv and its ReLU twice each):
#   convs: 2·3,211,264 + 2·1,605,632 + 3·802,816 + 3·401,408 + 3·100,352 = 13,547,520, and as many ReLU outputs
#   pools: 802,816 + 401,408 + 200,704 + 100,352 + 25,088 = 1,530,368; flatten 25,088
#   fc6, relu6, fc7, relu7: 4·4,096; fc8: 1,000
IMAGE = 224 * 224 * 3  # 150,528
ALL_VALUES = IMAGE + 2 * 13_547_520 + 1_530_368 + 25_088 + 4 * 4_096 + 1_000
# CS231n's rows: the image, each conv (ReLU in place), each pool and each FC layer once.
LAYER_VALUES = IMAGE + 13_547_520 + 1_530_368 + 2 * 4_096 + 1_000
BUFFERS = {"sgd": 0, "momentum": 1, "adam": 2}


@pytest.fixture(scope="module")
def report(vgg16):
    return onnxcost.analyze(vgg16)


def test_the_values_by_hand():
    assert ALL_VALUES == 28_818_408
    assert LAYER_VALUES == 15_237_608  # "their rows add to 15.2M", not the 24M of the table's total line


def test_cs231n_forward_activations(report):
    plan = training_memory(report, batch=1)
    every, layers = plan.forward_per_sample
    assert (every.values, every.bytes, every.with_backward_bytes) == (ALL_VALUES, 4 * ALL_VALUES, 8 * ALL_VALUES)
    assert (layers.values, layers.bytes) == (LAYER_VALUES, 60_950_432)  # 58.1 MiB / image forward
    assert layers.with_backward_bytes == 121_900_864  # "~*2 for bwd"
    # The table's own total, 24M values x 4 B = 96,000,000 B ("~93MB"), matches neither convention.


@pytest.mark.parametrize("batch", [1, 32])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_vgg16_fp32_terms(report, batch, optimizer):
    plan = training_memory(report, batch=batch, optimizer=optimizer)
    terms = {term.name: term.bytes for term in plan.terms}
    assert terms == {
        "weights": 4 * P,  # 553,430,176
        "gradients": 4 * P,
        "optimizer state": BUFFERS[optimizer] * 4 * P,
        "activations": batch * 4 * ALL_VALUES,  # batch x 115,273,632
    }
    assert plan.total_bytes == (8 + 4 * BUFFERS[optimizer]) * P + batch * 4 * ALL_VALUES


@pytest.mark.parametrize("batch", [1, 32])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_vgg16_mixed_precision_terms(report, batch, optimizer):
    plan = training_memory(report, batch=batch, optimizer=optimizer, mixed_precision=True)
    terms = {term.name: term.bytes for term in plan.terms}
    assert terms == {
        "weights": 2 * P,  # fp16 copy
        "master weights": 4 * P,  # fp32
        "gradients": 2 * P,
        "optimizer state": BUFFERS[optimizer] * 4 * P,  # fp32 moments
        "activations": batch * 2 * ALL_VALUES,
    }


def test_vgg16_worked_totals(report):
    # Adam, batch 32, fp32: 16 B x 138,357,544 = 2,213,720,704 plus 32 x 115,273,632 = 3,688,756,224.
    assert training_memory(report, 32, "adam").total_bytes == 5_902_476_928
    # Mixed precision: 16 B per parameter too (ZeRO's 2 + 2 + 12), activations halved: 32 x 57,636,816.
    assert training_memory(report, 32, "adam", mixed_precision=True).total_bytes == 2_213_720_704 + 1_844_378_112
    # SGD, batch 1, fp32: 8 B x 138,357,544 = 1,106,860,352 plus 115,273,632.
    assert training_memory(report, 1, "sgd").total_bytes == 1_222_133_984


def test_each_term_shows_its_formula_and_numbers(report):
    plan = training_memory(report, 32, "momentum")
    activations = plan.terms[-1]
    assert "batch" in activations.formula and activations.worked == "32 × 115,273,632"
    assert plan.terms[2].worked == "1 × 553,430,176"
    record = plan.to_dict()
    assert list(record)[:2] == ["schema", "batch"] and record["schema"] == "onnxcost.training/1"
    assert record["total_bytes"] == 12 * P + 32 * 4 * ALL_VALUES


def test_a_report_made_at_batch_2_is_scaled_per_sample():
    # x: 2 x 10 floats (80 B), y = x·W: 2 x 20 floats (160 B): 240 B at batch 2, 120 B a sample.
    report = onnxcost.analyze(model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"x": [2, 10]},
                                    ["y"], {"w": zeros(10, 20)}))
    plan = training_memory(report, batch=32)
    assert plan.report_batch == 2
    assert plan.terms[-1].bytes == 32 * 120
    assert plan.terms[0].bytes == 10 * 20 * 4
    assert training_memory(report, batch=32, report_batch=1).terms[-1].bytes == 32 * 240


def test_bad_requests_name_their_parameter(report):
    with pytest.raises(TrainingError) as caught:
        training_memory(report, optimizer="rmsprop")
    assert caught.value.parameter == "optimizer"
    with pytest.raises(TrainingError) as caught:
        training_memory(report, batch=0)
    assert caught.value.parameter == "batch"
    two = onnxcost.analyze(model([helper.make_node("Add", ["a", "b"], ["c"], name="add")], {"a": [1, 4], "b": [4, 4]},
                                 ["c"]))
    with pytest.raises(TrainingError, match="report_batch") as caught:
        training_memory(two)
    assert caught.value.parameter == "report_batch"


def test_report_training_section(tmp_path):
    # x [1, 8] · W [8, 3]: 24 parameters, 96 B; activations x (32 B) and y (12 B): 44 B a sample.
    path = tmp_path / "mm.onnx"
    onnx.save(model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], {"x": [1, 8]}, ["y"],
                    {"w": zeros(8, 3)}), str(path))
    done = subprocess.run([sys.executable, "-m", "onnxcost", "report", str(path), "-f", "json", "--batch", "4",
                           "--optimizer", "adam"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)["training"]
    assert [(t["name"], t["bytes"]) for t in record["terms"]] == [
        ("weights", 96), ("gradients", 96), ("optimizer state", 2 * 96), ("activations", 4 * 44)]
    assert record["total_bytes"] == 560 and record["optimizer"] == "adam" and record["batch"] == 4
    table = subprocess.run([sys.executable, "-m", "onnxcost", "report", str(path), "--training", "--mixed-precision"],
                           capture_output=True, text=True, timeout=120)
    # Mixed: 2·24 + 4·24 + 2·24 + 0 + 32 · 2 B · 11 values = 48 + 96 + 48 + 704 = 896 B.
    assert "Training memory: batch 32, sgd, mixed precision" in table.stdout and "896 B" in table.stdout
