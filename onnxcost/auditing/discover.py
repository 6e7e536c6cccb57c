"""Which files an audit covers: files as given, folders searched recursively for *.onnx, globs.

Paths keep the form they were given in (relative stays relative, normalised), so rows name files as the user
does and the same arguments give the same rows on any machine.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable

from .errors import AuditInputError

MODEL_SUFFIX = ".onnx"


def discover(paths: Iterable[str | os.PathLike]) -> list[str]:
    """The model files under ``paths``, sorted and without duplicates.

    A file is taken whatever its name; a folder gives every ``*.onnx`` below it (hidden files and folders
    skipped, symbolic links to folders not followed); a glob (``models/**/*.onnx``) gives what it matches,
    folders among the matches searched as above. An argument that gives no file is an error.
    """
    found: set[str] = set()
    arguments = [os.fspath(path) for path in paths]
    if not arguments:
        raise AuditInputError("no path given: name model files, folders or globs")
    for argument in arguments:
        files = _expand(argument)
        if not files:
            raise AuditInputError(_nothing_in(argument))
        found.update(files)
    return sorted(found)


def _expand(argument: str) -> list[str]:
    if os.path.isfile(argument):
        return [os.path.normpath(argument)]
    if os.path.isdir(argument):
        return _models_in(argument)
    if glob.has_magic(argument):
        matches = [match for match in sorted(glob.glob(argument, recursive=True)) if os.path.exists(match)]
        return [file for match in matches for file in _expand(match)]
    raise AuditInputError(f"{argument}: no such file or folder")


def _models_in(folder: str) -> list[str]:
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files.extend(os.path.normpath(os.path.join(root, name)) for name in names
                     if name.lower().endswith(MODEL_SUFFIX) and not name.startswith(".")
                     and os.path.isfile(os.path.join(root, name)))
    return files


def _nothing_in(argument: str) -> str:
    if os.path.isdir(argument):
        return f"{argument}: no {MODEL_SUFFIX} file in this folder or below"
    return f"{argument}: the pattern matches no file"
