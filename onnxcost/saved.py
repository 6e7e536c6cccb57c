"""Reports as baselines: a model file is analysed, a saved report (``onnxcost report -f json``) is read back.

A saved report committed to a repository is enough to compare against: the old model need not exist.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path

import onnx

from .errors import OnnxcostError
from .loading import DEFAULT_MAX_FILE_BYTES
from .report import SCHEMA, ModelInfo, NodeRow, OpTypeSummary, Peak, Report, TensorSummary, Totals


class SavedReportError(OnnxcostError):
    """A saved report cannot be read: not JSON, another schema, or a field missing or of the wrong type."""


def load_report(
    path: str | os.PathLike | onnx.ModelProto | Report,
    *,
    inputs: Mapping[str, Sequence[int]] | None = None,
    dims: Mapping[str, int] | None = None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> Report:
    """The report of ``path``: a ``.json`` file (or any file starting with ``{``) is a saved report read back,
    anything else a model analysed with ``inputs``, ``dims`` and ``max_file_bytes``.

    A saved report keeps the shapes it was made with: ``inputs`` and ``dims`` apply to model files only.
    A ModelProto is analysed and a Report is returned as it is, so callers can pass what they already hold.
    """
    if isinstance(path, Report):
        return path
    if not isinstance(path, onnx.ModelProto) and _is_saved_report(Path(path)):
        return read_saved_report(Path(path), max_file_bytes=max_file_bytes)
    from .analysis import analyze

    return analyze(path, inputs, dims, max_file_bytes=max_file_bytes, formulas=False)  # compared by their figures


def read_saved_report(path: Path, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Report:
    """A saved report file as a Report; every failure is one SavedReportError line naming the file."""
    try:
        size = path.stat().st_size
        if size > max_file_bytes:
            raise SavedReportError(f"{path}: {size} bytes is over the {max_file_bytes}-byte parse limit "
                                   "(raise it with max_file_bytes if you trust the file)", parameter="max_file_bytes")
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise SavedReportError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SavedReportError(f"{path}: is a directory, expected a saved report (.json) or a model (.onnx)") from None
    except OSError as exc:
        raise SavedReportError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise SavedReportError(f"{path}: not a saved report (broken JSON: {_first(exc)})") from None
    try:
        return report_from_dict(data)
    except SavedReportError as exc:
        raise SavedReportError(f"{path}: {exc}") from None


def report_from_dict(data: object) -> Report:
    """The inverse of ``Report.to_dict()``: ``report_from_dict(r.to_dict()).to_dict() == r.to_dict()``.

    Refuses another schema, and a missing or mistyped field (named by its path, e.g. ``totals.macs``);
    keys this version does not know are ignored (a later version of the same schema may add some).
    """
    if not isinstance(data, dict):
        raise SavedReportError(f"not a saved report (expected a JSON object, found {_json_type(data)})")
    schema = data.get("schema")
    if schema != SCHEMA:
        found = f"schema {schema!r}" if schema is not None else "no 'schema' key"
        raise SavedReportError(f"not a saved report: expected schema {SCHEMA!r} (onnxcost report -f json), "
                               f"found {found}")
    model = _object(_field(data, "model", dict, "model"), "model")
    peak = _field(data, "peak", dict, "peak")
    report = Report(
        model=_build(ModelInfo, model, "model", inputs=_tensors(model, "model.inputs"),
                     outputs=_tensors(model, "model.outputs")),
        totals=_build(Totals, _field(data, "totals", dict, "totals"), "totals"),
        peak=_build(Peak, peak, "peak", live_tensors=_tensors(peak, "peak.live_tensors")),
        by_op_type={op: _build(OpTypeSummary, _object(summary, f"by_op_type.{op}"), f"by_op_type.{op}")
                    for op, summary in _field(data, "by_op_type", dict, "by_op_type").items()},
        nodes=[_build(NodeRow, _object(row, f"nodes[{i}]"), f"nodes[{i}]")
               for i, row in enumerate(_field(data, "nodes", list, "nodes"))],
        warnings=_strings(_field(data, "warnings", list, "warnings"), "warnings"),
    )
    if "formulas" in data:  # a report with free dimensions (docs/formulas.md)
        from .symbolic.expressions import formulas_from_dict
        from .symbolic.figures import attach

        try:
            found = formulas_from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise SavedReportError(f"not a saved report: its formulas cannot be read ({exc})") from None
        attach(report, found)
    return report


def _is_saved_report(path: Path) -> bool:
    if path.suffix.lower() == ".json":
        return True
    try:  # a JSON object starts with '{'; no ONNX file does (it would be protobuf field 15 as a group)
        with open(path, "rb") as handle:
            return handle.read(64).lstrip().startswith(b"{")
    except OSError:
        return False  # let the model loader say what is wrong with the file


# Fields added to onnxcost.report/1 after it was first written (the breakdown by precision, quantization
# parameters): a report saved before them reads them as 0, every other field stays required.
ADDED_LATER = frozenset({
    "macs_float", "macs_int8", "macs_weight_only", "param_bytes_float", "param_bytes_int8", "param_bytes_int4",
    "param_bytes_int32", "quantization_params", "quantization_param_bytes", "receptive_field", "jump",
})

# What each annotation of the report's dataclasses admits (they are strings: report.py defers annotations).
_SCALARS = {"int": int, "str": str, "bool": bool, "float": (int, float)}


def _build(cls, data: dict, where: str, **given):
    """``cls`` from ``data``, each field checked against its annotation; ``given`` fields are already built.

    Every field is required, even those with a default in the dataclass: a total missing from a baseline must
    not silently count as 0."""
    values = dict(given)
    for f in fields(cls):
        if f.name in values:
            continue
        if f.name not in data and f.name in ADDED_LATER:
            continue  # a report saved before the field existed: the dataclass default (0 or None)
        if f.name not in data:
            raise SavedReportError(f"{where}.{f.name} is missing")
        values[f.name] = _checked(data[f.name], str(f.type), f"{where}.{f.name}")
    return cls(**values)


def _checked(value, annotation: str, where: str):
    optional = annotation.endswith(" | None")
    kind = annotation.removesuffix(" | None")
    if value is None and optional:
        return value
    if kind in _SCALARS:
        expected = _SCALARS[kind]
        if isinstance(value, expected) and (expected is bool or not isinstance(value, bool)):
            return value
    elif kind.startswith("list[") and isinstance(value, list):
        return [_checked(item, kind[5:-1], f"{where}[{i}]") for i, item in enumerate(value)]
    elif kind.startswith("dict[str, ") and isinstance(value, dict):
        return {key: _checked(item, kind[10:-1], f"{where}.{key}") for key, item in value.items()}
    raise SavedReportError(f"{where} should be {_expected(kind, optional)}, found {_json_type(value)}")


def _tensors(data: dict, where: str) -> list[TensorSummary]:
    key = where.rpartition(".")[2]
    return [_build(TensorSummary, _object(item, f"{where}[{i}]"), f"{where}[{i}]")
            for i, item in enumerate(_field(data, key, list, where))]


def _field(data: dict, key: str, kind: type, where: str):
    if key not in data:
        raise SavedReportError(f"{where} is missing")
    value = data[key]
    if not isinstance(value, kind):
        raise SavedReportError(f"{where} should be {_expected(kind.__name__, False)}, found {_json_type(value)}")
    return value


def _object(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise SavedReportError(f"{where} should be an object, found {_json_type(value)}")
    return value


def _strings(values: list, where: str) -> list[str]:
    return [_checked(v, "str", f"{where}[{i}]") for i, v in enumerate(values)]


def _expected(kind: str, optional: bool) -> str:
    names = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false", "list": "a list", "dict": "an object"}
    text = names.get(kind) or names.get(kind.partition("[")[0], kind)
    return f"{text} or null" if optional else text


def _json_type(value) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def _first(exc: BaseException) -> str:
    from .errors import first_line

    return first_line(exc, 120)
