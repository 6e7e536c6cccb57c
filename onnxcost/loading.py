"""Reading a model file: path checks, size limit, parse, and safe external data.

For a report the weights stored as external data are never read: only the
graph and the tensors' metadata (dtype, dims) are needed. When weights are
needed (a rewrite), every external-data location is checked to stay inside the
model's folder before a single byte is read, exactly the bytes the tensor's dims
and type need are read, and every tensor's data must match its dims.
Only regular files are opened: a FIFO or a device given as a model would block or never end.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from . import walk
from .tensors import BITS, numel, tensor_bytes
from .errors import ExternalDataError, InvalidModelError, ModelLoadError, first_line

# Protobuf refuses single messages over 2 GiB, so a larger .onnx cannot hold a
# valid model; weights beyond that belong in external data.
DEFAULT_MAX_FILE_BYTES = 2 * 1024**3


@dataclass
class LoadedModel:
    """A parsed model and the file it came from."""

    model: onnx.ModelProto
    path: Path | None  # None for a model given in memory
    # The main graph's nodes and fields (walk.NodeTable), read once for the check of their names; the analysis of a
    # model it owns uses them again
    table: walk.NodeTable | None = None


def load_model(
    source: str | os.PathLike | onnx.ModelProto,
    *,
    load_weights: bool = False,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    inline_weights: bool = True,
) -> LoadedModel:
    """Parse ``source`` (a path, or a ModelProto taken as it is) into a ModelProto; external weights only if
    ``load_weights``, their locations checked either way. Files over ``max_file_bytes`` are refused unread.
    ``inline_weights=False`` (for costs, which need no weight's values): the main graph's large initializers are
    not parsed but left in the file, as external-data references to it (``weights_in_file``): a 100 MB CNN then
    parses in milliseconds and never enters memory."""
    if isinstance(source, onnx.ModelProto):
        _check_is_model(source, "the given ModelProto")
        if load_weights:
            check_tensor_data(source)
        return LoadedModel(source, None)
    path = Path(source)
    check_readable(path, max_file_bytes)
    model = None
    if not inline_weights and not load_weights:
        from .weights_in_file import parse_leaving_weights

        model = parse_leaving_weights(path, give_up=True)  # None: not protobuf; onnx.load below words the error
    try:
        model = model or onnx.load(str(path), load_external_data=False)
    except (DecodeError, RuntimeError, ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: not an ONNX model (protobuf parse failed: {first_line(exc)})") from exc
    stored, table = _check_is_model(model, str(path))
    if load_weights:
        load_external_weights(model, path.parent)
        check_tensor_data(model)
    else:
        check_external_data(model, path.parent, [t for t in stored if t.data_location == onnx.TensorProto.EXTERNAL])
    return LoadedModel(model, path, table)


def check_readable(path: Path, max_file_bytes: int) -> None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise ModelLoadError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if stat.S_ISDIR(found.st_mode):
        raise ModelLoadError(f"{path}: is a directory, expected an .onnx file")
    if not stat.S_ISREG(found.st_mode):
        raise ModelLoadError(f"{path}: not a regular file (a FIFO or a device?), expected an .onnx file")
    size = found.st_size
    try:
        os.close(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)))  # never blocks, even if swapped for a FIFO
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read ({exc.strerror})") from exc
    if size == 0:
        raise ModelLoadError(f"{path}: empty file, not an ONNX model")
    if size > max_file_bytes:
        raise ModelLoadError(
            f"{path}: {size} bytes is over the {max_file_bytes}-byte parse limit "
            "(raise it with max_file_bytes if you trust the file)",
            parameter="max_file_bytes",
        )


def _check_is_model(model: onnx.ModelProto, where: str) -> tuple[list[onnx.TensorProto], walk.NodeTable]:
    """Refuse what is not a model; returns the tensors it stores (``walk.tensors``), found in the same walk as the
    graphs whose names it checks, and the main graph's ``walk.NodeTable`` (``_check_names``)."""
    # Any byte string can parse as some protobuf; a model has a graph and opsets.
    if not model.HasField("graph") or (not model.opset_import and model.ir_version == 0):
        raise ModelLoadError(f"{where}: parsed, but it is not an ONNX model (no graph or opset)")
    if len(model.graph.node) == 0 and len(model.graph.output) == 0:
        raise ModelLoadError(f"{where}: the model's graph is empty")
    graphs, stored = walk.graphs_and_tensors(model)
    return stored, _check_names(model, graphs, where)


def _check_names(model: onnx.ModelProto, graphs: list[onnx.GraphProto], where: str) -> walk.NodeTable:
    """Protobuf parses invalid UTF-8 in names (handing back bytes); refuse it here rather than deep inside a later step.
    ``graphs``: every graph of the model (``walk.graphs_and_tensors``), the main graph first. Returns the main graph's
    ``walk.NodeTable``: its nodes' fields are read once, for this check and for the analysis."""
    texts: list = []
    table = walk.NodeTable(graphs[0])
    for op_type, domain, name, inputs, outputs in table.fields:
        texts += (name, op_type, domain, *inputs, *outputs)
    texts.extend([attr.name for node in table.nodes for attr in node.attribute])
    for graph in graphs:
        texts.extend(value.name for value in [*graph.input, *graph.output, *graph.value_info, *graph.initializer])
        if graph is not graphs[0]:
            for node in graph.node:
                texts.extend([node.name, node.op_type, node.domain, *node.input, *node.output])
                texts.extend(attr.name for attr in node.attribute)
    texts.extend(function.name for function in model.functions)
    try:
        "".join(texts)  # the check in C: a name handed back as bytes makes join raise
    except TypeError:
        raise ModelLoadError(f"{where}: names in the model are not valid UTF-8 (corrupt file?)") from None
    return table


# The typed fields a tensor's values may be stored in instead of raw_data.
_VALUE_FIELDS = ("float_data", "int32_data", "string_data", "int64_data", "double_data", "uint64_data")
_COMPLEX = (onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128)


def check_tensor_data(model: onnx.ModelProto) -> None:
    """Refuse (InvalidModelError) a stored tensor whose data does not match its dims and type (raw_data too short
    or too long, too few or too many values, dims with no data), before any of it becomes an array. External
    tensors are checked when their data is read."""
    for tensor in walk.tensors(model):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            problem = _data_mismatch(tensor)
            if problem:
                raise InvalidModelError(f"tensor '{tensor.name}': {problem}")


def _data_mismatch(tensor: onnx.TensorProto) -> str | None:
    count = numel(tensor.dims)
    dims = f"its dims [{', '.join(map(str, tensor.dims))}]"
    fields = [name for name in _VALUE_FIELDS if len(getattr(tensor, name))]
    if tensor.HasField("raw_data"):
        expected = tensor_bytes(tensor.data_type, count)
        if fields:
            return f"values in both raw_data and {fields[0]}"
        if tensor.data_type in BITS and tensor.data_type != onnx.TensorProto.STRING and len(tensor.raw_data) != expected:
            return f"raw_data holds {len(tensor.raw_data)} bytes, {dims} and type need {expected}"
        return None
    if len(fields) > 1:
        return f"values in both {fields[0]} and {fields[1]}"
    if not fields:
        return f"{dims} say {count} elements, and it holds no data" if count else None
    bits = BITS.get(tensor.data_type, 0)
    if 0 < bits < 8 and bits not in (2, 4):
        return None  # packings onnx has not settled for the typed fields
    expected = 2 * count if tensor.data_type in _COMPLEX else (count * bits + 7) // 8 if 0 < bits < 8 else count
    held = len(getattr(tensor, fields[0]))
    return None if held == expected else f"{fields[0]} holds {held} values, {dims} need {expected}"


def external_tensors(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    """Every TensorProto of the model (graphs, subgraphs, Constant nodes) stored externally."""
    return [t for t in walk.tensors(model) if t.data_location == onnx.TensorProto.EXTERNAL]


def external_location(
    tensor: onnx.TensorProto, base_dir: Path, checked: dict[str, tuple[Path, int]] | None = None
) -> tuple[Path, int, int]:
    """The checked file, offset and length of an external tensor; refuses escapes before any read. The length is
    what the tensor's dims and type need; a ``length`` entry that says otherwise is refused.

    ``checked`` caches the verdict per location (path and size), for models with thousands of tensors.
    """
    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")
    if checked is not None and location in checked:
        target, size = checked[location]
    else:
        target, size = _data_file(tensor.name, location, base_dir)
        if checked is not None:
            checked[location] = (target, size)
    try:
        offset = int(info.get("offset", 0) or 0)
        length = int(info["length"]) if info.get("length") else None
    except ValueError as exc:
        raise ExternalDataError(f"tensor '{tensor.name}': bad external data offset/length") from exc
    if offset < 0 or (length is not None and length < 0):
        raise ExternalDataError(f"tensor '{tensor.name}': negative external data offset/length")
    if tensor.data_type not in BITS or tensor.data_type == onnx.TensorProto.STRING:
        raise ExternalDataError(f"tensor '{tensor.name}': external data of element type {tensor.data_type} has no "
                                "fixed size; refused")
    needed = tensor_bytes(tensor.data_type, numel(tensor.dims))
    if length is not None and length != needed:
        raise ExternalDataError(f"tensor '{tensor.name}': external data length {length} does not match the {needed} "
                                "bytes its dims and type need")
    if offset + needed > size:
        raise ExternalDataError(
            f"tensor '{tensor.name}': external data '{location}' is {size} bytes, shorter than the "
            f"{needed} bytes it should hold at offset {offset}"
        )
    return target, offset, needed


def _data_file(name: str, location: str, base_dir: Path) -> tuple[Path, int]:
    if not location:
        raise ExternalDataError(f"tensor '{name}': external data without a location")
    if "\0" in location:
        raise ExternalDataError(f"tensor '{name}': external data location contains a NUL byte; refused")
    if os.path.isabs(location) or Path(location).drive or location.startswith(("/", "\\")):
        raise ExternalDataError(f"tensor '{name}': external data location '{location}' is absolute; refused")
    if ".." in Path(location.replace("\\", "/")).parts:
        raise ExternalDataError(f"tensor '{name}': external data location '{location}' leaves the model's folder; refused")
    try:
        root = base_dir.resolve()
        target = (root / location).resolve()  # follows symlinks
        if root not in target.parents:
            raise ExternalDataError(f"tensor '{name}': external data '{location}' resolves outside the model's folder; "
                                    "refused")
        found = target.stat()
    except FileNotFoundError:
        raise ExternalDataError(f"tensor '{name}': external data file '{location}' not found next to the model") from None
    except (OSError, RuntimeError) as exc:  # a name too long, a symlink loop (RuntimeError before Python 3.13), ...
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else first_line(exc)
        raise ExternalDataError(f"tensor '{name}': external data '{location}' cannot be used ({reason})") from None
    if not stat.S_ISREG(found.st_mode):
        raise ExternalDataError(f"tensor '{name}': external data '{location}' is not a regular file; refused")
    return target, found.st_size


def check_external_data(model: onnx.ModelProto, base_dir: Path,
                        tensors: list[onnx.TensorProto] | None = None) -> None:
    """Every external-data reference is safe and its file long enough; checked with stat, nothing is read.
    ``tensors``: the model's external tensors when the caller has them (``external_tensors``)."""
    checked: dict[str, tuple[Path, int]] = {}
    for tensor in external_tensors(model) if tensors is None else tensors:
        external_location(tensor, base_dir, checked)


def load_external_weights(model: onnx.ModelProto, base_dir: Path, *, as_stored: bool = False) -> None:
    """Read external weights into ``model`` after checking every location is safe. ``as_stored``: leave each
    tensor's data_location unset, as a tensor stored inline is (``weights_in_file`` reads back the weights it left
    in their file so, giving the bytes the model had); otherwise it is set to DEFAULT."""
    check_external_data(model, base_dir)  # all first: nothing is read if any is refused
    checked: dict[str, tuple[Path, int]] = {}
    for tensor in external_tensors(model):
        target, offset, length = external_location(tensor, base_dir, checked)
        with open(target, "rb") as handle:
            handle.seek(offset)
            data = handle.read(length)
        if len(data) != length:  # the file shrank since it was checked
            raise ExternalDataError(f"tensor '{tensor.name}': external data ended after {len(data)} of {length} bytes")
        tensor.raw_data = data
        del data
        del tensor.external_data[:]
        if as_stored:
            tensor.ClearField("data_location")
        else:
            tensor.data_location = onnx.TensorProto.DEFAULT
