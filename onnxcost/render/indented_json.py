"""Indented JSON, byte for byte what ``json.dumps(value, indent=N, ...)`` writes, in a fraction of its time.

A value made only of strings, integers, booleans, None, lists, tuples and string-keyed dicts (a report) goes to
orjson, whose indented output is the same text (checked, not assumed: ``_orjson_writes_it``). orjson writes floats
otherwise ('1e-5' for '1e-05', null for NaN), so a value holding a float, or any other type, stays with this module's
encoder.

Python 3.11's C encoder cannot indent, so ``json.dumps(indent=...)`` falls back to the pure-Python encoder: a
chain of generators, one per nesting level, that every piece of text passes through. This encoder walks the value
once, appends to one list, escapes strings with the C escaper and makes each dict key's text (separator, indentation,
quoted key) once per depth. It follows the standard encoder's rules: the separators ',' and ': ', '[]' and '{}' for
empty containers, keys converted as json converts them, floats by ``float.__repr__`` with NaN and the infinities
as JavaScript writes them, subclasses of str, int and float written as such, anything else handed to ``default``.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain, compress
from json.encoder import encode_basestring, encode_basestring_ascii

_INFINITY = float("inf")
_SCALARS = frozenset({str, int, bool, type(None)})
_CONTAINERS = frozenset({list, tuple, dict})
_ALLOWED = _SCALARS | _CONTAINERS
_IS_DICT = {dict}.__contains__
_IS_SEQUENCE = {list, tuple}.__contains__


def dumps(value: object, indent: int = 2, ensure_ascii: bool = True,
          default: Callable[[object], object] | None = None) -> str:
    """The text of ``json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, default=default)``."""
    if indent == 2 and _orjson_writes_it(value):
        import orjson  # imported here: only JSON output needs it

        try:
            text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
        except orjson.JSONEncodeError:  # an integer past 64 bits, a string that is not valid UTF-8
            text = None
        if text is not None and (not ensure_ascii or text.isascii()):
            return text
    out: list[str] = []
    append = out.append
    escape = encode_basestring_ascii if ensure_ascii else encode_basestring
    # The exact types met in practice, looked up once per value; subclasses take the slower path in encode().
    writer_of = {
        str: escape, int: int.__repr__, float: _float_text, type(None): lambda _: "null",
        bool: lambda flag: "true" if flag else "false",
    }.get
    newlines: list[str] = []  # '\n' and the indentation of each depth
    key_texts: dict[int, dict[object, str]] = {}  # depth -> key -> ',\n' + indentation + '"key": '

    def newline(depth: int) -> str:
        while len(newlines) <= depth:
            newlines.append("\n" + " " * (indent * len(newlines)))
        return newlines[depth]

    def encode(item: object, depth: int) -> None:
        write = writer_of(type(item))
        if write is not None:
            append(write(item))
        elif isinstance(item, (list, tuple)):
            encode_list(item, depth)
        elif isinstance(item, dict):
            encode_dict(item, depth)
        elif isinstance(item, str):
            append(escape(item))
        elif isinstance(item, int):
            append(int.__repr__(item))
        elif isinstance(item, float):
            append(_float_text(item))
        elif default is None:
            raise TypeError(f"Object of type {type(item).__name__} is not JSON serializable")
        else:
            encode(default(item), depth)

    def encode_list(items: list | tuple, depth: int) -> None:
        if not items:
            append("[]")
            return
        separator = "," + newline(depth + 1)
        kinds = set(map(type, items))
        if len(kinds) == 1 and (str in kinds or int in kinds):  # names, dimensions: joined in C
            texts = map(escape if str in kinds else int.__repr__, items)
            append("[" + separator[1:] + separator.join(texts) + newlines[depth] + "]")
            return
        first = len(out)
        for item in items:
            append(separator)
            write = writer_of(type(item))
            if write is not None:
                append(write(item))
            else:
                encode(item, depth + 1)
        out[first] = "[" + separator[1:]  # the first item has no comma before it
        append(newlines[depth] + "]")

    def encode_dict(mapping: dict, depth: int) -> None:
        if not mapping:
            append("{}")
            return
        inner = newline(depth + 1)
        texts = key_texts.setdefault(depth, {})
        first = len(out)
        for key, item in mapping.items():
            text = texts.get(key)
            if text is None or type(key) is not str:  # 1 and True are equal keys with different texts
                text = "," + inner + escape(_key_text(key)) + ": "
                if type(key) is str:
                    texts[key] = text
            append(text)
            write = writer_of(type(item))
            if write is not None:
                append(write(item))
            else:
                encode(item, depth + 1)
        out[first] = "{" + out[first][1:]
        append(newlines[depth] + "}")

    encode(value, 0)
    return "".join(out)


def _orjson_writes_it(value: object) -> bool:
    """Whether ``value`` holds only the exact types orjson writes as json does: no float, no subclass (orjson itself
    refuses keys that are not strings). Checked a level of nesting at a time, all the items of the level's containers
    at once, in C (map, set, compress)."""
    if type(value) not in _CONTAINERS:
        return type(value) in _SCALARS
    level = [value]
    while level:
        level_types = list(map(type, level))
        items = list(chain(chain.from_iterable(map(dict.values, compress(level, map(_IS_DICT, level_types)))),
                           chain.from_iterable(compress(level, map(_IS_SEQUENCE, level_types)))))
        types = list(map(type, items))
        kinds = set(types)
        if not kinds <= _ALLOWED:
            return False
        level = list(compress(items, map(_CONTAINERS.__contains__, types))) if kinds & _CONTAINERS else []
    return True


def _float_text(number: float) -> str:
    if number != number:
        return "NaN"
    if number == _INFINITY:
        return "Infinity"
    if number == -_INFINITY:
        return "-Infinity"
    return float.__repr__(number)


def _key_text(key: object) -> str:
    """A dict key as json writes it: strings as they are, numbers, booleans and None as their JSON text."""
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float_text(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
