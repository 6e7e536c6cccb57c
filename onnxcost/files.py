"""Writing outputs so that a failure never leaves a half-written or lost file.

Everything goes to a temporary file in the target's folder, is flushed to
disk, optionally checked, and only then renamed over the target (an atomic
step on POSIX and Windows). If anything fails the target is untouched. Only a
regular file (or nothing) is ever replaced: never a FIFO, a device or a folder,
and never a file the command read (``keep``).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from .errors import InvalidModelError, OutputWriteError, first_line


def write_atomic(target: str | os.PathLike, data: bytes | str | Callable[[BinaryIO], None],
                 check: Callable[[Path], None] | None = None, *, keep: Iterable[str | os.PathLike] = ()) -> Path:
    """Write ``data`` to ``target`` atomically; ``check(temp_path)`` may raise to abort. ``keep``: files the target
    must not be (the command's inputs); see ``check_target``. ``data`` may be a function that writes the content
    to the binary file it is given (content too large to hold twice)."""
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    check_target(target, keep)
    try:
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{target.name}.", suffix=".tmp", delete=False)
    except OSError as exc:
        raise OutputWriteError(f"cannot write {target}: {exc.strerror or exc}") from exc
    temp = Path(handle.name)
    try:
        with handle:
            if callable(payload):
                payload(handle)
            else:
                handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, _mode_for(target))
        if check is not None:
            check(temp)
        os.replace(temp, target)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputWriteError(f"cannot write {target}: {exc.strerror or exc}; it is left as it was") from exc
        raise
    return target


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def check_target(target: str | os.PathLike, keep: Iterable[str | os.PathLike] = ()) -> None:
    """Refuse (OutputWriteError) to replace anything but a regular file (symlinks followed: a link to a device is
    refused too) or a file that is one of ``keep`` (hard links and symlinks included). Nothing is opened."""
    try:
        found = os.stat(target)
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise OutputWriteError(f"cannot write {os.fspath(target)}: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(found.st_mode):
        kind = next((name for test, name in _KINDS if test(found.st_mode)), "not a regular file")
        raise OutputWriteError(f"cannot write {os.fspath(target)}: it is {kind}, not a regular file; refused")
    for path in keep:
        try:
            same = os.path.samestat(found, os.stat(path))
        except (OSError, ValueError):
            continue
        if same:
            raise OutputWriteError(f"cannot write {os.fspath(target)}: it is the input {os.fspath(path)}; refused "
                                   "(write the result to another file)")


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o777  # keep an existing file's permissions
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# Protobuf cannot serialize a message of 2 GiB or more: larger models keep their weights beside them.
PROTOBUF_LIMIT = 2**31 - 1


# Models whose initializers hold this many bytes or more are written one initializer at a time and checked with
# their weights left in the written file: the same bytes and the same checks, without a second copy of the model
# in memory (nor the checker's two: the file's bytes and their parse).
STREAMED_BYTES = 64 * 1024**2


def save_model(model, target: str | os.PathLike, full_check: bool = True) -> Path:
    """Write ``model`` atomically after onnx.checker passes on the written file.

    Models too large for one protobuf get their weights in ``<target>.data``
    next to the model, written the same all-or-nothing way.
    """
    import onnx

    target = Path(target)
    from .weights_in_file import load_leaving_weights, model_writer

    writer = model_writer(model) if _initializer_bytes(model) >= STREAMED_BYTES else None

    def check(path: Path) -> None:
        view = load_leaving_weights(path) if writer is not None else None
        try:
            if view is None:
                onnx.checker.check_model(str(path), full_check=full_check)
            else:
                _check_graph_of(path, view, full_check)
        except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
            raise InvalidModelError(f"the model to write fails onnx.checker, nothing written: {first_line(exc)}") \
                from exc

    if writer is not None and writer.size < PROTOBUF_LIMIT:
        return write_atomic(target, writer, check)
    if writer is None and _serialized_size(model) < PROTOBUF_LIMIT:
        return write_atomic(target, model.SerializeToString(), check)
    return _save_with_external_data(model, target, check)


def _check_graph_of(path: Path, view, full_check: bool) -> None:
    """onnx.checker on the written file ``path`` through ``view``, its graph with the large weights left in it
    (``load_leaving_weights``): written beside it for the checker, which finds external data next to the model it
    checks; then each weight's place is checked to lie inside the file, as long as its dims need."""
    import onnx

    from .loading import check_external_data

    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f"{path.name}.", suffix=".graph.onnx", delete=False)
    try:
        with handle:
            handle.write(view.SerializeToString())
        onnx.checker.check_model(handle.name, full_check=full_check)
    finally:
        Path(handle.name).unlink(missing_ok=True)
    check_external_data(view, path.parent)


def _initializer_bytes(model) -> int:
    """The bytes the main graph's initializers' values take, from their dims (no copy of them is made)."""
    from .tensors import numel, tensor_bytes

    return sum(tensor_bytes(t.data_type, numel(t.dims)) for t in model.graph.initializer)


def save_with_external_data(model, path: str | os.PathLike, location: str | None = None) -> Path:
    """Write a copy of ``model`` at ``path`` with every tensor over 1 KiB in one file beside it
    (``location``, by default '<name>.data'); the model given is not changed.

    Not atomic: for a fresh folder (a staging or temporary one) or a file of one's own. This is how a
    model over protobuf's 2 GiB reaches onnx.checker and onnxruntime.
    """
    import onnx

    path = Path(path)
    copy = onnx.ModelProto()
    copy.CopyFrom(model)  # onnx.save_model moves the weights of the model it is given out to the data file
    onnx.save_model(copy, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=location or f"{path.name}.data", size_threshold=1024)
    return path


def _serialized_size(model) -> int:
    from google.protobuf.message import EncodeError

    try:
        return model.ByteSize()
    except EncodeError:  # upb refuses to size a message over 2 GiB instead of returning it
        return PROTOBUF_LIMIT


def _save_with_external_data(model, target: Path, check: Callable[[Path], None]) -> Path:
    """``save_with_external_data`` made atomic: written and checked in a staging folder beside the target,
    then both files renamed into place."""
    folder = target.parent if str(target.parent) else Path(".")
    data_name = f"{target.name}.data"
    check_target(target)
    check_target(folder / data_name)
    try:
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".{target.name}."))
    except OSError as exc:
        raise OutputWriteError(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        save_with_external_data(model, staging / target.name, location=data_name)
        check(staging / target.name)
        os.replace(staging / data_name, folder / data_name)
        os.replace(staging / target.name, target)
    except OSError as exc:
        raise OutputWriteError(f"cannot write {target}: {exc.strerror or exc}; it is left as it was") from exc
    finally:
        for leftover in staging.iterdir():
            leftover.unlink()
        staging.rmdir()
    return target
