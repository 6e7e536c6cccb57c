"""Models whose large weights stay in their file.

ONNX files are protobuf: a ModelProto's graph (field 7) holds its initializers (GraphProto field 5), each a
TensorProto whose values are usually one raw_data field (9). Reading the framing alone (varints and lengths)
finds where each tensor's bytes lie, without reading them: the model can then be parsed with those bytes left
in the file (as external-data references to the file itself, which onnxruntime maps instead of copying), and a
model can be written one tensor at a time. Both keep a model's weights out of memory, or in it once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import InvalidModelError

_GRAPH, _INITIALIZER = 7, 5  # ModelProto.graph, GraphProto.initializer
_NAME, _RAW_DATA, _EXTERNAL_DATA, _DATA_LOCATION = 8, 9, 13, 14  # TensorProto fields
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5  # protobuf wire types
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
# Tensors smaller than this stay in the parsed model: their bytes cost less than the references that would replace them.
_STUB_MIN_BYTES = 1 << 16
# Stepping over a field of the framing costs about what parsing 1 KB does: a walk that has met this many fields and no
# tensor to leave (a graph of many nodes and small weights) stops, and the model is parsed as it is.
_FIELDS_WITHOUT_STUBS = 10_000


def _varint(data, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_field(number: int, payload_size: int) -> bytes:
    """The key and length that precede a length-delimited field of ``payload_size`` bytes."""
    return _encode_varint(number << 3 | _LENGTH) + _encode_varint(payload_size)


def _fields(data, start: int, end: int):
    """(number, wire type, start of the field, start of its value, end) of each field of the message data[start:end];
    ValueError when the bytes are not protobuf. One-byte keys and lengths (most of them) are read inline: a graph
    of 50k nodes has as many fields to step over."""
    pos = start
    while pos < end:
        first = pos
        key = data[pos]
        pos += 1
        if key >= 0x80:
            key, pos = _varint(data, first)
        number, wire = key >> 3, key & 7
        if wire == _LENGTH:
            size = data[pos]
            value = pos + 1
            if size >= 0x80:
                size, value = _varint(data, pos)
            stop = value + size
        elif wire == _VARINT:
            value, (_, stop) = pos, _varint(data, pos)
        elif wire == _FIXED64:
            value, stop = pos, pos + 8
        elif wire == _FIXED32:
            value, stop = pos, pos + 4
        else:
            raise ValueError(f"protobuf wire type {wire} at byte {first}")
        if stop > end or number == 0:
            raise ValueError(f"protobuf field at byte {first} runs past its message")
        yield number, wire, first, value, stop
        pos = stop


def _stub(data, start: int, end: int, location: str) -> tuple[str, bytes] | None:
    """(name, the TensorProto data[start:end] with its raw_data replaced by a reference to where it lies in the file
    ``location``), or None for a tensor without raw_data or already external."""
    parts, raw, name = [], None, ""
    for number, wire, first, value, stop in _fields(data, start, end):
        if number == _RAW_DATA and wire == _LENGTH and raw is None:
            raw = (value, stop - value)
            continue
        if number in (_RAW_DATA, _EXTERNAL_DATA, _DATA_LOCATION):
            return None
        if number == _NAME and wire == _LENGTH:
            name = bytes(data[value:stop]).decode("utf-8", "replace")
        parts.append(data[first:stop])
    if raw is None:
        return None
    for key, text in (("location", location), ("offset", str(raw[0])), ("length", str(raw[1]))):
        entry = b"".join(_length_field(n, len(s)) + s for n, s in ((1, key.encode()), (2, text.encode())))
        parts.append(_length_field(_EXTERNAL_DATA, len(entry)) + entry)
    parts.append(_encode_varint(_DATA_LOCATION << 3 | _VARINT) + _encode_varint(_EXTERNAL))
    return name, b"".join(parts)


def _leave_in_file(data, location: str, leave: Callable[[str, int], bool], give_up: bool = False) -> bytes | None:
    """The model data[:] re-framed with the main graph's initializers that ``leave(name, bytes)`` picks as stubs;
    None when it picks none (data[:] is the model as it is), or, with ``give_up``, when the walk meets
    _FIELDS_WITHOUT_STUBS fields before the first tensor to leave."""
    model_parts, stubs = [], 0
    for number, wire, first, value, stop in _fields(data, 0, len(data)):
        if number != _GRAPH or wire != _LENGTH:
            model_parts.append(data[first:stop])
            continue
        graph_parts, run = [], value  # run: where the graph's bytes copied as they are begin
        for count, (g_number, g_wire, g_first, g_value, g_stop) in enumerate(_fields(data, value, stop)):
            if give_up and not stubs and count >= _FIELDS_WITHOUT_STUBS:
                return None
            if g_number == _INITIALIZER and g_wire == _LENGTH and g_stop - g_value >= _STUB_MIN_BYTES:
                stub = _stub(data, g_value, g_stop, location)
                if stub is not None and leave(stub[0], g_stop - g_value):
                    graph_parts += [data[run:g_first], _length_field(_INITIALIZER, len(stub[1])), stub[1]]
                    run, stubs = g_stop, stubs + 1
        graph_parts.append(data[run:stop])
        graph = b"".join(graph_parts)
        model_parts.append(_length_field(_GRAPH, len(graph)) + graph)
    return b"".join(model_parts) if stubs else None


def parse_leaving_weights(path: str | os.PathLike, choose: Callable[[str, int], bool] | None = None,
                          give_up: bool = False):
    """The model at ``path`` parsed with the raw_data of the main graph's large initializers that ``choose(name,
    bytes)`` picks (all by default) left in the file, as external-data references to the file itself; None when
    the file's bytes are not protobuf framing (the usual loading then words the error). Only the framing is read,
    through a read-only map of the file. Its external data, if any, is left as it is: nothing is checked here.
    ``give_up``: parse the model as it is when the first _FIELDS_WITHOUT_STUBS fields hold no tensor to leave."""
    import mmap

    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            framed = _leave_in_file(data, path.name, choose or (lambda name, size: True), give_up)
            return onnx.ModelProto.FromString(data[:] if framed is None else framed)
    except (OSError, ValueError, IndexError, DecodeError):
        return None


def load_leaving_weights(path: str | os.PathLike, choose: Callable | None = None):
    """The model at ``path`` (one self-contained .onnx file) parsed with the raw_data of its main graph's large
    initializers left in the file: each becomes an external-data reference to the file itself (location: its
    name, offset and length: where its raw_data lies), which onnxruntime maps from the file given the file's folder
    (``validation.sessions.session(..., weights_folder=...)``) and ``read_weights_back`` reads back in.

    ``choose(model)``: given the model with every large initializer left in the file, the names of those to
    leave there (the others are parsed into the model as usual); None leaves them all. Returns None when the file
    is not protobuf or already has external data: then load it the usual way (``loading.load_model``), which also
    words the error. Only the framing is read, through a read-only map of the file: never the weights left there.
    """
    import onnx

    from . import walk

    model = parse_leaving_weights(path)
    if model is None or any(t.data_location == onnx.TensorProto.EXTERNAL and not _is_stub(t, Path(path).name)
                            for t in walk.tensors(model)):
        return None  # not protobuf, or external data of its own: the usual loading checks and reads it
    if choose is None:
        return model
    chosen = set(choose(model))
    return parse_leaving_weights(path, lambda name, size: name in chosen)


def open_leaving_weights(path: str | os.PathLike, max_file_bytes: int, choose: Callable | None = None):
    """``load_leaving_weights`` with the checks ``loading.load_model`` makes of a file it loads (the path first,
    then the model, its names and each tensor's data against its dims, and each weight left in the file against
    the file's length): a ``loading.LoadedModel``, or None when the usual loading should read the file instead
    (it then also words any error; one about the path itself is raised here, before anything is read)."""
    from .errors import OnnxcostError
    from .loading import LoadedModel, check_external_data, check_readable, load_model

    path = Path(path)
    check_readable(path, max_file_bytes)  # loading's own check of a path
    view = load_leaving_weights(path, choose)
    if view is None:
        return None
    try:
        load_model(view, load_weights=True)
        check_external_data(view, path.parent)
    except OnnxcostError:
        return None
    return LoadedModel(view, path)


def _is_stub(tensor, location: str) -> bool:
    """Whether ``tensor`` refers to the file ``location`` (in the same folder): a weight left in it."""
    return any(entry.key == "location" and entry.value == location for entry in tensor.external_data)


def _copy_fields(source, target, skip: str) -> None:
    """Every set field of the message ``source`` but ``skip`` copied into the empty ``target`` of its type."""
    for field in source.DESCRIPTOR.fields:  # not ListFields: it would copy the skipped field's value (raw_data)
        name = field.name
        if name == skip:
            continue
        if field.is_repeated:
            if len(getattr(source, name)):
                getattr(target, name).extend(getattr(source, name))
        elif source.HasField(name):
            if field.type == field.TYPE_MESSAGE:
                getattr(target, name).CopyFrom(getattr(source, name))
            else:
                setattr(target, name, getattr(source, name))


def _split_after(data: bytes, number: int) -> int:
    """Where the fields numbered above ``number`` begin in the serialized message ``data``."""
    return next((first for n, _, first, _, _ in _fields(data, 0, len(data)) if n > number), len(data))


class _ModelWriter:
    """Writes ``model.SerializeToString()``'s bytes one initializer at a time (``size``: how many). Protobuf writes a
    message's known fields in field-number order, so the model is its fields before the graph, the graph, and its
    fields after; the graph likewise around its initializers (field 5), and a large tensor around its raw_data
    (field 9), whose bytes are then the only copy made (upb sizes a message by serializing it, and serializing
    copies twice: into its arena, then into Python bytes)."""

    def __init__(self, model):
        import onnx

        head, graph = onnx.ModelProto(), onnx.GraphProto()
        _copy_fields(model, head, "graph")
        _copy_fields(model.graph, graph, "initializer")
        self.head, self.graph = head.SerializeToString(), graph.SerializeToString()
        self.model_cut, self.graph_cut = _split_after(self.head, _GRAPH), _split_after(self.graph, _INITIALIZER)
        self.tensors = [_TensorPieces(t) for t in model.graph.initializer]
        self.graph_size = len(self.graph) + sum(len(_length_field(_INITIALIZER, t.size)) + t.size for t in self.tensors)
        self.size = len(self.head) + len(_length_field(_GRAPH, self.graph_size)) + self.graph_size

    def __call__(self, handle: BinaryIO) -> None:
        handle.write(self.head[:self.model_cut])
        handle.write(_length_field(_GRAPH, self.graph_size))
        handle.write(self.graph[:self.graph_cut])
        for tensor in self.tensors:
            handle.write(_length_field(_INITIALIZER, tensor.size))
            tensor.write(handle)
        handle.write(self.graph[self.graph_cut:])
        handle.write(self.head[self.model_cut:])
        if handle.tell() != self.size:  # the lengths written in the framing would not match what follows them
            raise RuntimeError(f"the model's writer wrote {handle.tell()} bytes, {self.size} expected")


class _TensorPieces:
    """One initializer's serialized bytes, written by ``write``: a small tensor's whole, a large one's fields
    before raw_data, raw_data and the fields after (its length known from its dims and type)."""

    def __init__(self, tensor):
        import onnx
        from google.protobuf.unknown_fields import UnknownFieldSet

        from .tensors import BITS, numel, tensor_bytes

        self.tensor = tensor
        raw = tensor_bytes(tensor.data_type, numel(tensor.dims)) if tensor.HasField("raw_data") else 0
        sized = tensor.data_type in BITS and tensor.data_type != onnx.TensorProto.STRING
        self.whole = raw < _STUB_MIN_BYTES or not sized or bool(len(UnknownFieldSet(tensor)))
        if self.whole:  # serialized again when written: thousands of small tensors are not held twice
            self.size = len(tensor.SerializeToString())
            return
        rest = onnx.TensorProto()
        _copy_fields(tensor, rest, "raw_data")
        self.rest, self.raw = rest.SerializeToString(), raw
        self.cut = _split_after(self.rest, _RAW_DATA)
        self.size = len(self.rest) + len(_length_field(_RAW_DATA, raw)) + raw

    def write(self, handle: BinaryIO) -> None:
        if self.whole:
            handle.write(self.tensor.SerializeToString())
            return
        data = self.tensor.raw_data
        if len(data) != self.raw:  # loading refuses such tensors; a model built in memory may still hold one
            raise InvalidModelError(f"tensor '{self.tensor.name}': raw_data holds {len(data)} bytes, its dims and "
                                    f"type need {self.raw}; nothing written")
        handle.write(self.rest[:self.cut])
        handle.write(_length_field(_RAW_DATA, self.raw))
        handle.write(data)
        handle.write(self.rest[self.cut:])


def model_writer(model) -> _ModelWriter | None:
    """The one-initializer-at-a-time writer of ``model``, or None when its pieces would not make its bytes: fields
    protobuf does not know (kept in place only by serializing the whole message)."""
    from google.protobuf.unknown_fields import UnknownFieldSet

    if len(UnknownFieldSet(model)) or len(UnknownFieldSet(model.graph)):
        return None
    return _ModelWriter(model)


def read_weights_back(model, folder: str | os.PathLike) -> None:
    """Read the weights ``load_leaving_weights`` left in the file back into ``model`` (changed in place), each
    tensor as it was in the file: its raw_data, no external-data fields. Locations are checked as
    ``loading.external_location`` checks them (inside ``folder``, long enough) before anything is read."""
    from .loading import load_external_weights

    load_external_weights(model, Path(folder), as_stored=True)
