"""Whole-file integrity checksums for every file latent-gridworld writes (safe paths: fileio).

Datasets, episodic memories, play recordings and BC checkpoints are zip files (``.npz`` from
numpy, ``.pt`` from ``torch.save``). :func:`seal` stores a sha256 of the whole file in the zip
archive's comment, the last bytes of the file; :func:`verify` recomputes it before a loader
reads anything. A content hash over the arrays alone (what datasets had) misses flips in the
zip's own bookkeeping (local headers, extra fields, the central directory): a file damaged
there still loads, silently, with whatever the damaged entry now means. The digest covers
every byte before the checksum itself, and the checksum's own bytes are checked by comparing,
so a flip anywhere is caught. Zip readers ignore comments: numpy, ``torch.load`` and ``unzip``
read a sealed file as before.

Layout of a sealed file: the zip archive whose end-of-central-directory record says the
comment is :data:`TRAILER_LEN` bytes long, then the comment ``MAGIC + 64 hex digits``, the
sha256 of all bytes before the comment.
"""

from __future__ import annotations

import hashlib
import os
import string
import struct
import warnings
from typing import BinaryIO

MAGIC = b"latent-gridworld-sha256:"
TRAILER_LEN = len(MAGIC) + 64
_EOCD = b"PK\x05\x06"  # end-of-central-directory record signature
_EOCD_LEN = 22  # its length without a comment
_CHUNK = 1 << 20
_HEX = set(string.hexdigits.lower().encode())


class FileFormatError(ValueError):
    """A file is not what its loader expects: another format or version, or damaged."""


class ChecksumMissingError(FileFormatError):
    """A well-formed zip archive without a checksum: foreign, or written before checksums."""


def _sha256(f: BinaryIO, size: int) -> str:
    """sha256 of the first ``size`` bytes of the open binary file ``f``."""
    digest = hashlib.sha256()
    f.seek(0)
    left = size
    while left > 0:
        chunk = f.read(min(_CHUNK, left))
        if not chunk:
            break
        digest.update(chunk)
        left -= len(chunk)
    return digest.hexdigest()


def seal(path: str | os.PathLike[str]) -> str:
    """Store the file's sha256 as the comment of the zip archive at ``path``; return it.

    Call it on the finished temporary file, before renaming it into place, so that a file
    under its final name always carries its checksum.

    Raises:
        ValueError: ``path`` is not a zip archive without a comment (nothing is changed).
    """
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        if size >= _EOCD_LEN:
            f.seek(size - _EOCD_LEN)
            eocd = f.read(_EOCD_LEN)
        if size < _EOCD_LEN or eocd[:4] != _EOCD or eocd[-2:] != b"\0\0":
            raise ValueError(f"{os.fspath(path)} is not a zip archive without a comment")
        f.seek(size - 2)
        f.write(struct.pack("<H", TRAILER_LEN))
        f.flush()
        digest = _sha256(f, size)
        f.seek(size)
        f.write(MAGIC + digest.encode())
    return digest


def verify(path: str | os.PathLike[str], *, allow_unsealed: bool = False) -> bool:
    """Check the checksum :func:`seal` stored in ``path``; return ``True`` if every byte matches.

    A zip archive that ends without any comment was written before files carried checksums
    (or by another program). With ``allow_unsealed`` it is let through (``False`` is returned:
    the caller checks its format and then calls :func:`warn_unsealed`); otherwise it is refused.
    One flipped byte in a sealed file can never make it look unsealed: that needs the four
    bytes of a zip record signature at the very end of the file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ChecksumMissingError: an unsealed zip archive, and ``allow_unsealed`` is false.
        FileFormatError: the checksum does not match the file's bytes, or is damaged, or the
            file is not a zip archive at all (corrupted or truncated).
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(f"no such file: {name}")
    with open(name, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        tail = b""
        if size >= _EOCD_LEN:
            f.seek(size - min(size, TRAILER_LEN + _EOCD_LEN))
            tail = f.read()
        trailer, stored = tail[-TRAILER_LEN:], tail[-TRAILER_LEN + len(MAGIC) :]
        if tail[-_EOCD_LEN : -_EOCD_LEN + 4] == _EOCD and tail[-2:] == b"\0\0":
            if allow_unsealed:
                return False
            raise ChecksumMissingError(
                f"{name} carries no latent-gridworld checksum: it was written by another "
                "program or by a version before checksums (load it with that version and save "
                "it again)"
            )
        if len(tail) < TRAILER_LEN + _EOCD_LEN or not (
            trailer.startswith(MAGIC) and set(stored) <= _HEX
        ):
            raise FileFormatError(
                f"{name} is truncated or corrupted: it does not end with the checksum that "
                "every file latent-gridworld writes carries"
            )
        actual = _sha256(f, size - TRAILER_LEN)
    if actual != stored.decode():
        raise FileFormatError(
            f"{name} is corrupted: its sha256 {actual[:16]}... differs from the checksum "
            f"stored when it was written ({stored.decode()[:16]}...)"
        )
    return True


def warn_unsealed(path: str | os.PathLike[str]) -> None:
    """Warn that ``path`` loads without an integrity check (see :func:`verify`)."""
    warnings.warn(
        f"{os.fspath(path)} carries no checksum (written before latent-gridworld checked its "
        "files): damage to it cannot be detected; save it again to add one",
        UserWarning,
        stacklevel=3,
    )
