"""Real inputs for running a model many times: samples read batch by batch, with bounded memory.

A dataset is a set of samples for every input of a model; the first axis of every array is the sample axis,
and it doubles as the model's batch axis (a model declared 1x3x224x224 takes an array of N x 3 x 224 x 224).
Where the samples come from (``open_dataset``):

- an ``.npz`` file: one array per model input, named after it (``np.savez("data.npz", image=...)``). The arrays
  are streamed from the archive one batch at a time (stored or deflated), never read whole.
- a folder of ``.npy`` files: one ``<input name>.npy`` per model input, every file with the same number of
  samples on its first axis. Files are memory-mapped: a batch is a copy of its rows only.
- a folder of images (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.webp``, ``.tif``, ``.tiff``), one sample per
  file in name order, for a model with one image input, turned into arrays by a ``Preprocess`` spec.
  Pillow decodes them (the ``images`` extra: ``pip install onnxcost[images]``), imported only then.
- a mapping of arrays (``ArrayDataset``), already in memory.

Every array is checked against the model's inputs before anything is run: names, dtypes (an array of the
same kind, float64 for float32, is cast batch by batch), ranks and fixed dimensions past the first axis.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Protocol

import numpy as np
import onnx

from .errors import InputSpecError, first_line

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


class DatasetError(InputSpecError):
    """A dataset cannot be read, or does not fit the model's inputs."""


class ModelInput(Protocol):
    """What a dataset is checked against: a model input's name, numpy dtype and dims (an int when fixed, a
    symbol's name or None otherwise; ``dims`` None when the rank is unknown). ``validation.InputSpec`` is one."""

    name: str
    dtype: np.dtype
    dims: tuple[int | str | None, ...] | None


class Dataset(Protocol):
    """Samples for every input of a model, read in batches (the first axis of every array is the batch)."""

    names: tuple[str, ...]  # the input names, in the model's order
    count: int  # the number of samples

    def batches(self, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        """Consecutive batches of ``batch_size`` samples (the last one may be shorter), one array per input.
        Only one batch is held at a time."""
        ...


@dataclass(frozen=True)
class Preprocess:
    """How an image becomes a model input: resized to ``size`` (height, width; bilinear), channels in ``order``
    ("RGB" or "BGR"), values multiplied by ``scale`` and then normalized per channel, ``(x·scale - mean) / std``
    (mean and std in the scaled units, in the order of the channels as fed), in ``layout`` "NCHW" or "NHWC".

    ``size`` None: taken from the model's input when its height and width are fixed. A one-channel input gets
    the image in grayscale (then mean and std have one value); one value serves every channel.
    """

    size: tuple[int, int] | None = None
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    order: str = "RGB"
    layout: str = "NCHW"
    scale: float = 1 / 255

    def __post_init__(self) -> None:
        if self.order not in ("RGB", "BGR"):
            raise DatasetError(f"preprocess: channel order must be RGB or BGR, not {self.order!r}", parameter="preprocess")
        if self.layout not in ("NCHW", "NHWC"):
            raise DatasetError(f"preprocess: layout must be NCHW or NHWC, not {self.layout!r}", parameter="preprocess")
        if self.size is not None and (len(self.size) != 2 or min(self.size) < 1):
            raise DatasetError(f"preprocess: size must be two positive numbers (height, width), not {self.size}",
                               parameter="preprocess")
        if len(self.mean) != len(self.std) or any(s == 0 for s in self.std):
            raise DatasetError("preprocess: mean and std need as many values, and std no zero", parameter="preprocess")


class ArrayDataset:
    """Samples already in memory: one array per input, the first axis the samples (all of the same length)."""

    def __init__(self, arrays: Mapping[str, np.ndarray], dtypes: Mapping[str, np.dtype] | None = None):
        self._arrays = {name: np.asarray(value) for name, value in arrays.items()}
        self._dtypes = dict(dtypes or {})
        self.names = tuple(self._arrays)
        self.count = _common_count({name: a.shape for name, a in self._arrays.items()}, "the arrays")

    def batches(self, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        _check_batch_size(batch_size)
        for start in range(0, self.count, batch_size):
            yield {name: _as(array[start:start + batch_size], self._dtypes.get(name))
                   for name, array in self._arrays.items()}


class NpyFolderDataset:
    """A folder of ``<input name>.npy`` files, memory-mapped: a batch copies its own rows, nothing more."""

    def __init__(self, folder: Path, names: Sequence[str], dtypes: Mapping[str, np.dtype]):
        self.folder = folder
        self.names = tuple(names)
        self._dtypes = dict(dtypes)
        self._arrays = {}
        for name in self.names:
            try:
                self._arrays[name] = np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:
                raise DatasetError(f"{folder / (name + '.npy')}: not a readable .npy file ({first_line(exc)})") from None
        self.count = _common_count({name: a.shape for name, a in self._arrays.items()}, str(folder))

    def batches(self, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        _check_batch_size(batch_size)
        for start in range(0, self.count, batch_size):
            yield {name: _as(np.array(array[start:start + batch_size]), self._dtypes.get(name))
                   for name, array in self._arrays.items()}


class NpzDataset:
    """An .npz archive read as streams: each batch decompresses the next rows of every member, nothing more."""

    def __init__(self, path: Path, headers: Mapping[str, tuple[tuple[int, ...], np.dtype]], dtypes: Mapping[str, np.dtype]):
        self.path = path
        self.names = tuple(dtypes)
        self._headers = dict(headers)
        self._dtypes = dict(dtypes)
        self.count = _common_count({name: headers[name][0] for name in self.names}, str(path))

    def batches(self, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        _check_batch_size(batch_size)
        try:
            with zipfile.ZipFile(self.path) as archive:
                streams = {name: _open_rows(archive, name) for name in self.names}
                try:
                    for start in range(0, self.count, batch_size):
                        rows = min(batch_size, self.count - start)
                        yield {name: _as(_read_rows(streams[name], self._headers[name], rows), self._dtypes[name])
                               for name in self.names}
                finally:
                    for stream in streams.values():
                        stream.close()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise DatasetError(f"{self.path}: not a readable .npz file ({first_line(exc)})") from None


class ImageFolderDataset:
    """A folder of images for a model's one image input, decoded and preprocessed one batch at a time."""

    def __init__(self, files: Sequence[Path], name: str, dtype: np.dtype, channels: int, preprocess: Preprocess):
        self.files = list(files)
        self.names = (name,)
        self.count = len(self.files)
        self._dtype = dtype
        self._channels = channels
        self._preprocess = preprocess

    def batches(self, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        _check_batch_size(batch_size)
        for start in range(0, self.count, batch_size):
            images = [self.image(path) for path in self.files[start:start + batch_size]]
            yield {self.names[0]: np.stack(images).astype(self._dtype, copy=False)}

    def image(self, path: Path) -> np.ndarray:
        """One image as the model takes it (without the batch axis): CHW or HWC, float32."""
        image = _pillow_image(path, self._channels)
        p = self._preprocess
        height, width = p.size
        if image.size != (width, height):
            image = image.resize((width, height), _bilinear())
        pixels = np.asarray(image, dtype=np.float32)
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        if p.order == "BGR":
            pixels = pixels[:, :, ::-1]
        mean = np.asarray(p.mean, np.float32)
        std = np.asarray(p.std, np.float32)
        pixels = (pixels * np.float32(p.scale) - mean) / std
        return np.ascontiguousarray(pixels.transpose(2, 0, 1) if p.layout == "NCHW" else pixels)


def open_dataset(
    source: str | os.PathLike | Mapping[str, np.ndarray] | Dataset,
    model_inputs: onnx.ModelProto | Sequence[ModelInput],
    *,
    preprocess: Preprocess | None = None,
) -> Dataset:
    """The samples of ``source`` for a model whose inputs are ``model_inputs`` (a ModelProto or its input specs,
    ``validation.input_specs(model)``), checked against them: every input given and no other, dtypes of the
    same kind, ranks equal, fixed dimensions past the first axis equal. A folder of images needs ``preprocess``
    only to change its defaults (``Preprocess()``). Raises DatasetError (one line, ``parameter="feeds"``).
    """
    specs = _specs(model_inputs)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            found = os.stat(path)
        except (OSError, ValueError):
            raise DatasetError(f"{path}: no such file or folder", parameter="feeds") from None
        if stat.S_ISDIR(found.st_mode):
            return _open_folder(path, specs, preprocess)
        if not stat.S_ISREG(found.st_mode):
            raise DatasetError(f"{path}: not a regular file or a folder", parameter="feeds")
        if path.suffix == ".npy":
            raise DatasetError(f"{path}: a single .npy file: give the folder of <input name>.npy files, or an .npz",
                               parameter="feeds")
        return _open_npz(path, specs)
    if isinstance(source, Mapping):
        shapes = {name: np.shape(array) for name, array in source.items()}
        dtypes = {name: np.asarray(array).dtype for name, array in source.items()}
        wanted = _check(specs, shapes, dtypes, "the arrays")
        return ArrayDataset({name: source[name] for name in wanted}, wanted)
    if hasattr(source, "batches") and hasattr(source, "count"):
        return source
    raise DatasetError(f"feeds must be a path, a mapping of arrays or a Dataset, not {type(source).__name__}",
                       parameter="feeds")


def _specs(model_inputs) -> list[ModelInput]:
    if isinstance(model_inputs, onnx.ModelProto):
        from .validation.inputs import input_specs  # not at import: validation imports this module

        return input_specs(model_inputs)
    return list(model_inputs)


def _open_npz(path: Path, specs: list[ModelInput]) -> NpzDataset:
    try:
        with zipfile.ZipFile(path) as archive:
            headers = {}
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    raise DatasetError(f"{path}: member '{info.filename}' is not an array (.npy)", parameter="feeds")
                with archive.open(info) as stream:
                    shape, fortran, dtype = _npy_header(stream)
                if fortran and len(shape) > 1:
                    raise DatasetError(f"{path}: '{info.filename}' is in Fortran order: save it C-contiguous",
                                       parameter="feeds")
                headers[info.filename[:-len(".npy")]] = (shape, dtype)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"{path}: not a readable .npz file ({first_line(exc)})", parameter="feeds") from None
    wanted = _check(specs, {n: h[0] for n, h in headers.items()}, {n: h[1] for n, h in headers.items()}, str(path))
    return NpzDataset(path, headers, wanted)


def _open_folder(folder: Path, specs: list[ModelInput], preprocess: Preprocess | None) -> Dataset:
    entries = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    arrays = [p for p in entries if p.suffix == ".npy"]
    images = [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES]
    if arrays and images:
        raise DatasetError(f"{folder}: holds both .npy files and images: keep one kind", parameter="feeds")
    if arrays:
        shapes, dtypes = {}, {}
        for path in arrays:
            try:
                with open(path, "rb") as stream:
                    shapes[path.stem], _, dtypes[path.stem] = _npy_header(stream)
            except (OSError, ValueError, EOFError) as exc:
                raise DatasetError(f"{path}: not a readable .npy file ({first_line(exc)})", parameter="feeds") from None
        wanted = _check(specs, shapes, dtypes, str(folder))
        return NpyFolderDataset(folder, list(wanted), wanted)
    if images:
        return _image_dataset(folder, images, specs, preprocess or Preprocess())
    raise DatasetError(f"{folder}: no .npy files and no images ({', '.join(IMAGE_SUFFIXES)})", parameter="feeds")


def _image_dataset(folder: Path, files: list[Path], specs: list[ModelInput], preprocess: Preprocess) -> ImageFolderDataset:
    if len(specs) != 1:
        raise DatasetError(f"{folder}: a folder of images feeds a model with one input, this one has {len(specs)} "
                           f"({', '.join(s.name for s in specs)}): give an .npz", parameter="feeds")
    spec = specs[0]
    if spec.dims is None or len(spec.dims) != 4:
        raise DatasetError(f"{folder}: images need a 4-D input, '{spec.name}' is not", parameter="feeds")
    if not np.issubdtype(spec.dtype, np.floating):
        raise DatasetError(f"{folder}: images are fed as floats, '{spec.name}' takes {spec.dtype}", parameter="feeds")
    channel_axis, spatial = (1, (2, 3)) if preprocess.layout == "NCHW" else (3, (1, 2))
    channels = spec.dims[channel_axis]
    if channels not in (1, 3):
        raise DatasetError(f"{folder}: '{spec.name}' has {channels} channels on axis {channel_axis} ({preprocess.layout}): "
                           "images give 1 or 3", parameter="preprocess")
    if len(preprocess.mean) == 1 and channels == 3:  # one value for every channel
        preprocess = replace(preprocess, mean=preprocess.mean * 3, std=preprocess.std * 3)
    if len(preprocess.mean) != channels:
        raise DatasetError(f"preprocess: mean and std have {len(preprocess.mean)} values, '{spec.name}' has {channels} "
                           "channels", parameter="preprocess")
    fixed = tuple(spec.dims[a] for a in spatial)
    size = preprocess.size
    if size is None:
        if not all(isinstance(d, int) and d > 0 for d in fixed):
            raise DatasetError(f"{folder}: '{spec.name}' has no fixed height and width: give the size to preprocess",
                               parameter="preprocess")
        size = fixed
    elif any(isinstance(d, int) and d > 0 and d != s for d, s in zip(fixed, size)):
        raise DatasetError(f"preprocess: size {size[0]}x{size[1]}, the model takes {fixed[0]}x{fixed[1]}",
                           parameter="preprocess")
    return ImageFolderDataset(files, spec.name, spec.dtype, channels, replace(preprocess, size=tuple(size)))


def _check(specs: list[ModelInput], shapes: Mapping[str, tuple[int, ...]], dtypes: Mapping[str, np.dtype],
           where: str) -> dict[str, np.dtype]:
    """The model's dtype of each input, in the model's order, after checking the arrays' names, dtypes and shapes."""
    missing = [s.name for s in specs if s.name not in shapes]
    extra = sorted(set(shapes) - {s.name for s in specs})
    if missing:
        raise DatasetError(f"{where}: no array for input(s) {', '.join(missing)}"
                           + (f" (it has {', '.join(extra)})" if extra else ""), parameter="feeds")
    if extra:
        raise DatasetError(f"{where}: array(s) {', '.join(extra)} match no input of the model", parameter="feeds")
    for spec in specs:
        shape, dtype = tuple(shapes[spec.name]), np.dtype(dtypes[spec.name])
        if dtype != spec.dtype and (dtype.hasobject or not np.can_cast(dtype, spec.dtype, casting="same_kind")):
            raise DatasetError(f"{where}: '{spec.name}' is {dtype}, the model takes {spec.dtype}", parameter="feeds")
        if not shape:
            raise DatasetError(f"{where}: '{spec.name}' is a scalar: the first axis must count the samples",
                               parameter="feeds")
        if spec.dims is not None:
            expected = "x".join(str(d) if d else "?" for d in spec.dims)
            if len(shape) != len(spec.dims):
                raise DatasetError(f"{where}: '{spec.name}' has rank {len(shape)} ({'x'.join(map(str, shape))}), the model "
                                   f"takes rank {len(spec.dims)} ({expected}); the first axis counts the samples",
                                   parameter="feeds")
            if any(isinstance(d, int) and d > 0 and d != n for d, n in zip(spec.dims[1:], shape[1:])):
                raise DatasetError(f"{where}: '{spec.name}' has shape {'x'.join(map(str, shape))}, the model takes "
                                   f"{expected} (the first axis counts the samples)", parameter="feeds")
    _common_count(shapes, where)
    return {spec.name: spec.dtype for spec in specs}


def _common_count(shapes: Mapping[str, tuple[int, ...]], where: str) -> int:
    counts = {name: (shape[0] if len(shape) else 1) for name, shape in shapes.items()}
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"'{name}' {count}" for name, count in counts.items())
        raise DatasetError(f"{where}: the arrays hold different numbers of samples ({listed})", parameter="feeds")
    count = next(iter(counts.values()), 0)
    if count == 0:
        raise DatasetError(f"{where}: no samples", parameter="feeds")
    return count


def _check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise DatasetError(f"batch_size must be at least 1, not {batch_size}", parameter="batch_size")


def _as(array: np.ndarray, dtype: np.dtype | None) -> np.ndarray:
    return array if dtype is None or array.dtype == dtype else array.astype(dtype)


def _npy_header(stream: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) from the start of an .npy stream, which is left at the first data byte."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ValueError(f"an .npy of version {version[0]}.{version[1]}, not 1.0 or 2.0")
    if dtype.hasobject:
        raise ValueError("an array of Python objects")
    return tuple(shape), fortran, dtype


def _open_rows(archive: zipfile.ZipFile, name: str) -> IO[bytes]:
    """A member's stream positioned at its first data byte."""
    stream = archive.open(f"{name}.npy")
    _npy_header(stream)
    return stream


def _read_rows(stream: IO[bytes], header: tuple[tuple[int, ...], np.dtype], rows: int) -> np.ndarray:
    """The next ``rows`` samples of a member, read straight into their array (no intermediate bytes)."""
    shape, dtype = header
    array = np.empty((rows, *shape[1:]), dtype=dtype)
    view = memoryview(array.reshape(-1).view(np.uint8))
    filled = 0
    while filled < len(view):
        got = stream.readinto(view[filled:])
        if not got:
            raise EOFError("the archive ends before its arrays do")
        filled += got
    return array


def _pillow_image(path: Path, channels: int):
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise DatasetError("reading images needs Pillow: pip install 'onnxcost[images]'", parameter="feeds") from None
    try:
        with Image.open(path) as image:
            return image.convert("L" if channels == 1 else "RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable image ({first_line(exc)})", parameter="feeds") from None


def _bilinear():
    from PIL import Image

    return Image.Resampling.BILINEAR
