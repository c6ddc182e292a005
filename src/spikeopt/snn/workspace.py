"""A small pool of reusable tensors for the blocked rollout's scratch and saved membranes.

Why: the CPU allocator hands large tensors (beyond glibc's mmap threshold, a few MiB) back to the
operating system when they are freed, so every training step gets fresh pages and pays a page
fault (and the kernel's zero-fill) for every 4 KiB it writes -- on a loaded machine that costs as
much as the arithmetic. Tensors given back here are kept for the next call of the same shape.

The pool is per thread and holds at most :data:`MAX_BYTES` in all; :func:`release` empties it.
Only tensors whose contents nobody reads any more may be given back.
"""

from __future__ import annotations

import threading

from torch import Tensor

MAX_BYTES = 512 * 2**20

_local = threading.local()


def _free() -> dict:
    if not hasattr(_local, "free"):
        _local.free, _local.bytes = {}, 0
    return _local.free


def take(shape: tuple[int, ...], like: Tensor) -> Tensor:
    """An uninitialised tensor of ``shape`` with ``like``'s dtype and device (reused when one is free)."""
    key = (tuple(shape), like.dtype, like.device)
    stack = _free().get(key)
    if stack:
        tensor = stack.pop()
        _local.bytes -= tensor.numel() * tensor.element_size()
        return tensor
    return like.new_empty(shape)


def give(*tensors: Tensor | None) -> None:
    """Return tensors to the pool for reuse (dropped when the pool is full)."""
    free = _free()
    for tensor in tensors:
        if tensor is None:
            continue
        size = tensor.numel() * tensor.element_size()
        if _local.bytes + size > MAX_BYTES:
            continue
        free.setdefault((tuple(tensor.shape), tensor.dtype, tensor.device), []).append(tensor)
        _local.bytes += size


def release() -> None:
    """Drop every pooled tensor (gives their memory back)."""
    _free().clear()
    _local.bytes = 0


def pooled_bytes() -> int:
    _free()
    return int(_local.bytes)
