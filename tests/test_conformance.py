"""Every operator conformance model ONNX ships reports, or is refused in one line only where onnx.checker refuses it.

The models: the node test cases of the installed onnx (``onnx.backend.test.case.node.collect_testcases``, which
builds them in memory) and the backend test data inside the onnx wheel (onnx/backend/test/data/**/*.onnx). With
onnx 1.23 that is 1,884 + 149 = 2,033 models, all accepted by onnx.checker; the whole run takes about 20 s on one
core, half of it onnx building its cases. They carry what the cost walk must take in its stride: empty tensors (a
zero dimension: CastLike's ``like``, empty ``axes``), every dtype, Loop/If/Scan bodies, opsets 1 to the newest.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from functools import cache
from pathlib import Path

import onnx
import pytest
from onnx.backend.test.case.node import collect_testcases

import onnxcost
from onnxcost.errors import OnnxcostError

DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
MIN_MODELS = 1800  # onnx 1.23 ships 2,033; fewer means the collection itself broke
# A handful through the CLI, one of each kind: an empty tensor, empty axes, a Loop body, an If, a data model.
THROUGH_CLI = ("test_castlike_FLOAT_to_DOUBLE", "test_reduce_sum_empty_axes_input_noop",
               "test_range_float_type_positive_delta_expanded", "test_if",
               "pytorch-operator/test_operator_maxpool/model.onnx")


@cache
def conformance_models() -> dict[str, onnx.ModelProto]:
    """Name -> model: the node test cases by name, the wheel's data models by path under DATA."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # building the Cast cases overflows float16 on purpose
        models = {case.name: case.model for case in collect_testcases()}
    for path in sorted(DATA.glob("**/*.onnx")):
        models[path.relative_to(DATA).as_posix()] = onnx.load(path)
    return models


def checker_accepts(model: onnx.ModelProto) -> bool:
    try:
        onnx.checker.check_model(model)
    except Exception:  # the checker's C++ side raises several types
        return False
    return True


def test_every_conformance_model_reports_or_is_refused_only_with_the_checker():
    models = conformance_models()
    assert len(models) >= MIN_MODELS
    wrong = []
    for name, model in models.items():
        try:
            onnxcost.analyze(model, source=name)
        except OnnxcostError as exc:
            if checker_accepts(model) or "\n" in str(exc):
                wrong.append(f"{name}: refused: {exc}")
        except Exception as exc:  # noqa: BLE001 - collected: every failure is listed in the one assertion
            wrong.append(f"{name}: {type(exc).__name__}: {exc}")
    assert not wrong, f"{len(wrong)} of {len(models)} conformance models:\n" + "\n".join(wrong)


def test_zero_sized_inputs_are_legal_and_cost_nothing_where_they_are_empty():
    # CastLike's 'like' is declared with shape [0]: an empty tensor, which ONNX allows. The CastLike node itself
    # casts 'input' ([3, 4]), so its output is 12 elements, nothing assumed.
    report = onnxcost.analyze(conformance_models()["test_castlike_FLOAT_to_DOUBLE"])
    assert not any("assumed 1" in w for w in report.warnings)
    assert [tuple(r.output_shapes[0]) for r in report.nodes] == [(3, 4)]


@pytest.mark.parametrize("name", THROUGH_CLI)
def test_conformance_models_through_the_cli(name, tmp_path):
    model = conformance_models()[name]
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    result = subprocess.run([sys.executable, "-m", "onnxcost", "report", str(path), "-f", "json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("{") and '"schema": "onnxcost.report/' in result.stdout
