"""Read and write IDX files, the format MNIST, Fashion-MNIST and EMNIST ship in.

Layout: two zero bytes, a dtype code, the number of dimensions ``d``, then ``d`` big-endian uint32
sizes and the big-endian data. Files may be gzip-compressed (detected from their first bytes,
not their name). Kept dependency-free so a user's own copy of a dataset loads without downloads.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

# IDX dtype code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: str | os.PathLike) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{os.fspath(path)}: corrupt or truncated gzip data ({e})") from e


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in IDX file ``path`` (plain or gzip), in native byte order."""
    raw = _read_bytes(path)
    name = os.fspath(path)
    if len(raw) < 4:
        raise ValueError(f"{name}: too short for an IDX header ({len(raw)} bytes)")
    zero, code, ndim = raw[0:2], raw[2], raw[3]
    if zero != b"\x00\x00" or code not in IDX_DTYPES:
        raise ValueError(
            f"{name}: bad IDX magic number {raw[:4].hex()}; expected 0000 + a dtype code among "
            f"{', '.join(f'{c:02x}' for c in IDX_DTYPES)} + the number of dimensions"
        )
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: truncated IDX header (needs {header} bytes, file has {len(raw)})")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(IDX_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    have = len(raw) - header
    if have < expected:
        raise ValueError(f"{name}: truncated IDX data: shape {shape} needs {expected} bytes, file has {have}")
    if have > expected:
        raise ValueError(f"{name}: {have - expected} unexpected bytes after the IDX data of shape {shape}")
    data = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def read_idx_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """The shape declared in the header of IDX file ``path``, without reading the data."""
    name = os.fspath(path)
    with open(path, "rb") as raw:
        gz = raw.read(2) == _GZIP_MAGIC
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            head = f.read(4)
            if len(head) < 4 or head[:2] != b"\x00\x00" or head[2] not in IDX_DTYPES or head[3] == 0:
                raise ValueError(f"{name}: bad IDX magic number {head.hex()}")
            dims = f.read(4 * head[3])
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{name}: corrupt or truncated gzip data ({e})") from e
    if len(dims) < 4 * head[3]:
        raise ValueError(f"{name}: truncated IDX header")
    return struct.unpack(f">{head[3]}I", dims)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file; gzip-compressed when ``path`` ends with ``.gz``."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("=").str[1:]: k for k, v in IDX_DTYPES.items()}
    kind = array.dtype.newbyteorder("=").str[1:]
    if kind not in codes:
        raise TypeError(f"IDX cannot store dtype {array.dtype}; use uint8, int8, int16, int32, float32 or float64")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX stores 1 to 255 dimensions, got {array.ndim}")
    if any(n >= 2**32 for n in array.shape):
        raise ValueError(f"IDX dimension sizes must be < 2**32, got {array.shape}")
    code = codes[kind]
    payload = (
        bytes([0, 0, code, array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    )
    if os.fspath(path).endswith(".gz"):
        payload = gzip.compress(payload)
    with open(path, "wb") as f:
        f.write(payload)
