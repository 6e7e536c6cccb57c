"""Tensor sizes: element counts, element sizes and kinds of ONNX tensor types."""

from __future__ import annotations

import functools
import math

from onnx import TensorProto

# Bits per element, by TensorProto enum name (names missing from an older onnx are skipped).
_BITS_BY_NAME = {
    "FLOAT": 32, "UINT8": 8, "INT8": 8, "UINT16": 16, "INT16": 16, "INT32": 32, "INT64": 64,
    "STRING": 0, "BOOL": 8, "FLOAT16": 16, "DOUBLE": 64, "UINT32": 32, "UINT64": 64,
    "COMPLEX64": 64, "COMPLEX128": 128, "BFLOAT16": 16,
    "FLOAT8E4M3FN": 8, "FLOAT8E4M3FNUZ": 8, "FLOAT8E5M2": 8, "FLOAT8E5M2FNUZ": 8, "FLOAT8E8M0": 8,
    "UINT4": 4, "INT4": 4, "FLOAT4E2M1": 4, "UINT2": 2, "INT2": 2, "FLOAT6E2M3": 6, "FLOAT6E3M2": 6,
}
_FLOAT_NAMES = {
    "FLOAT", "FLOAT16", "DOUBLE", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
    "FLOAT8E5M2FNUZ", "FLOAT8E8M0", "FLOAT4E2M1", "FLOAT6E2M3", "FLOAT6E3M2",
}
_NAMES = dict(TensorProto.DataType.items())
BITS = {_NAMES[name]: bits for name, bits in _BITS_BY_NAME.items() if name in _NAMES}
FLOAT_TYPES = frozenset(_NAMES[name] for name in _FLOAT_NAMES if name in _NAMES)
INTEGER_TYPES = frozenset(
    _NAMES[name] for name in ("INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32", "INT64", "UINT64",
                              "INT4", "UINT4", "INT2", "UINT2") if name in _NAMES
)
# Integers of 8 bits or fewer: what quantized weights and activations are stored in, and what integer
# arithmetic (int8 kernels) runs on.
LOW_BIT_INTEGER_TYPES = frozenset(t for t in INTEGER_TYPES if BITS[t] <= 8)
# Quantized weights (int8/uint8/int4 of QLinearConv, MatMulNBits, ...) are parameters too.
WEIGHT_TYPES = FLOAT_TYPES | LOW_BIT_INTEGER_TYPES

# Parameter bytes are split by storage: floats of any width, 8-bit integers, integers narrower than 8 bits
# (4-bit, 2-bit: packed), integers wider than 8 bits (int32 quantized biases).
STORAGE_CLASSES = ("float", "int8", "int4", "int32")


def numel(shape) -> int:
    """Element count of a shape (1 for a scalar); exact for any size."""
    try:
        return math.prod(map(int, shape))  # Python ints (not numpy's, which wrap at 2**63), multiplied in C
    except TypeError:  # dimensions that are polynomials (onnxcost.symbolic): the product is one too
        return _polynomial_numel(tuple(shape))


@functools.lru_cache(maxsize=4096)
def _polynomial_numel(shape: tuple):
    return math.prod(shape)  # many tensors share a shape: each product of polynomials is worked out once


def at_least(value, low: int):
    """max(value, low); a polynomial in free dimensions (onnxcost.symbolic) as it is: formulas describe the sizes
    where the dimensions make it at least ``low`` (a reduction's input has at least its output's elements)."""
    try:
        return max(value, low)
    except TypeError:
        return value


def tensor_bytes(elem_type: int, count: int) -> int:
    """Bytes of ``count`` elements, sub-byte types packed (rounded up to a whole byte)."""
    return (BITS.get(elem_type, 0) * count + 7) // 8


def type_name(elem_type: int) -> str:
    """The TensorProto name in lower case ('float', 'int64', 'float16'); 'type<N>' for a type without a known size."""
    return TensorProto.DataType.Name(elem_type).lower() if elem_type in BITS else f"type{elem_type}"


def storage_class(elem_type: int, packed_bits: int | None = None) -> str:
    """The parameter-bytes class of a stored dtype: 'float', 'int8', 'int4' (under 8 bits) or 'int32' (over 8).

    ``packed_bits``: the width of the integers packed into the tensor (MatMulNBits' uint8 blobs hold 4-bit ones)."""
    if packed_bits is None:
        if elem_type not in INTEGER_TYPES:
            return "float"
        packed_bits = BITS[elem_type]
    return "int8" if packed_bits == 8 else "int4" if packed_bits < 8 else "int32"
