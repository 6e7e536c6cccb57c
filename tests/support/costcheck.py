"""Checks shared by the op-cost tests: a model is valid, and its reported output shapes are
onnxruntime's (or worked out by hand where onnxruntime has no CPU kernel)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

import onnxcost


def analyzed(m: onnx.ModelProto, feeds: dict | None = None, expected: dict | None = None):
    """Validate ``m``, cost it, and check every reported output shape against onnxruntime's, or
    against ``expected`` {output: shape} worked out by hand where onnxruntime has no CPU kernel."""
    observed = ort_shapes(m, feeds) if expected is None else expected
    # Strict inference rejects bad types and attributes. The checker wants typed graph outputs:
    # where onnx infers none (function and contrib ops), the observed shape stands in.
    inferred = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
    for out in inferred.graph.output:
        if not out.type.tensor_type.HasField("shape") and out.name in observed:
            out.type.tensor_type.shape.SetInParent()
            for dim in observed[out.name]:
                out.type.tensor_type.shape.dim.add().dim_value = dim
    onnx.checker.check_model(inferred, full_check=True)
    report = onnxcost.analyze_model(m)
    reported = {name: shape for row in report.nodes for name, shape in zip(row.outputs, row.output_shapes)}
    for name, shape in observed.items():
        assert reported[name] == shape, name
    return report


def ort_shapes(m: onnx.ModelProto, feeds: dict | None = None) -> dict[str, list[int]]:
    """Output shapes onnxruntime produces for random inputs (``feeds`` overrides some)."""
    session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = dict(feeds or {})
    for value in m.graph.input:
        if value.name not in feeds:
            shape = [d.dim_value for d in value.type.tensor_type.shape.dim]
            dtype = helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
            feeds[value.name] = rng.random(shape).astype(dtype)
    names = [out.name for out in session.get_outputs()]
    return {name: list(np.shape(value)) for name, value in zip(names, session.run(None, feeds))}


def single(m: onnx.ModelProto, feeds: dict | None = None, expected: dict | None = None):
    """The one row of a one-node model checked as by ``analyzed``, which must raise no warning."""
    report = analyzed(m, feeds, expected)
    assert len(report.nodes) == 1 and report.warnings == []
    return report.nodes[0]
