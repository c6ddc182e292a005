"""Check output paths before any work starts, so a long run never ends in "cannot write".

A path is fine when it is not a folder (or, for an output folder, not a file), its nearest
existing parent is a folder we can create a file in (tried for real, which also catches read-only
file systems and root-owned folders), and that file system has some free space left.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MIN_FREE_BYTES = 1 << 20  # refuse to start with less than 1 MiB free where the output goes


def _existing_parent(path: Path) -> Path:
    parent = path.parent if path.parent != path else path
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def _check_folder(folder: Path, what: str, target: Path, min_free: int) -> None:
    if not folder.is_dir():
        raise NotADirectoryError(f"{what} {target}: {folder} is a file, not a folder; choose another path")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".spikeopt-write-check-")
    except OSError as err:
        raise PermissionError(f"{what} {target}: cannot create files in {folder} ({err.strerror}); "
                              "choose a writable folder") from None
    os.close(fd)
    os.remove(probe)
    free = shutil.disk_usage(folder).free
    if free < min_free:
        raise OSError(f"{what} {target}: only {free} bytes free on the file system of {folder}; free some space")


def check_output_file(path: str | os.PathLike, what: str = "output file", min_free: int = MIN_FREE_BYTES) -> Path:
    """Raise now if ``path`` cannot be written later: a folder, a file as parent, no permission, a
    full disk. Nothing is created."""
    path = Path(path)
    if str(path) == "" or path.name in ("", ".", ".."):
        raise ValueError(f"{what} {str(path)!r} is not a file name")
    if path.is_dir():
        raise IsADirectoryError(f"{what} {path} is a folder; give a file name such as {path / 'result.json'}")
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"{what} {path} exists and is not writable")
    _check_folder(_existing_parent(path), what, path, min_free)
    return path


def check_output_folder(path: str | os.PathLike, what: str = "output folder", min_free: int = MIN_FREE_BYTES) -> Path:
    """Raise now if files cannot be created in folder ``path`` (existing or to be created)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{what} {path} is a file; give a folder")
    _check_folder(path if path.is_dir() else _existing_parent(path), what, path, min_free)
    return path


def check_distinct(paths: dict[str, str | os.PathLike | None]) -> None:
    """Two outputs of one command must not be the same file (one would overwrite the other)."""
    seen: dict[Path, str] = {}
    for flag, p in paths.items():
        if p is None:
            continue
        resolved = Path(p).resolve()
        if resolved in seen:
            raise ValueError(f"{seen[resolved]} and {flag} name the same file {p}; give two different paths")
        seen[resolved] = flag
