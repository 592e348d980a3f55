"""Safe output files: check the path before the work, never overwrite unasked, never leave debris.

Every writer of the package (``generate --out``, ``play --record``, ``EpisodicMemory.save``)
goes through :func:`atomic_write_path`: the path is checked first (:func:`check_output_path`:
not a folder, not an existing file unless ``overwrite``, parent folder created and writable),
the content goes to a temporary file next to it, and only a complete file is renamed into place.
The temporary file is removed when the write fails or is interrupted (an exception, Ctrl-C,
``SIGTERM``/``SIGHUP``), and one left by a process that was killed outright (``SIGKILL``, out of
memory) is removed by the next write to the same path.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

OVERWRITE_HINT = "pass overwrite=True"
_TERMINATING = ("SIGTERM", "SIGHUP")  # signals whose default action kills without cleanup


def check_output_path(
    path: str | os.PathLike[str], *, overwrite: bool = False, hint: str = OVERWRITE_HINT
) -> Path:
    """Check that a file can be written at ``path`` before any work is done; return it.

    The parent folders are created (so ``runs/me.npz`` works in a fresh clone).

    Args:
        path: The output file.
        overwrite: Allow replacing an existing file.
        hint: How the caller asks for ``overwrite`` (``"add --force"`` on a command line).

    Raises:
        IsADirectoryError: ``path`` is a folder.
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        NotADirectoryError: a parent of ``path`` is a file.
        PermissionError: the parent folder cannot be created or written.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"{path} is a folder; give a file path, e.g. {path / ('out' + (path.suffix or '.npz'))}"
        )
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; {hint} to replace it")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise NotADirectoryError(
            f"cannot create the folder {parent} for {path}: a file is in the way"
        ) from err
    except PermissionError as err:
        raise PermissionError(f"cannot create the folder {parent} for {path}: {err}") from err
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: no write permission in {parent}")
    return path


@contextmanager
def atomic_write_path(
    path: str | os.PathLike[str], *, overwrite: bool = False, hint: str = OVERWRITE_HINT
) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; a complete write is renamed onto ``path``.

    ``path`` is checked with :func:`check_output_path` first. The temporary file
    (``<name>.tmp<pid>``) is removed whatever happens: on an exception, on Ctrl-C, and on
    ``SIGTERM``/``SIGHUP`` (removed, then the signal is re-delivered, so the process still dies
    of it). Temporary files of the same path left by dead processes are removed first.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "a" / "b.txt"
    >>> with atomic_write_path(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text(), sorted(p.name for p in out.parent.iterdir())
    ('done', ['b.txt'])
    """
    path = check_output_path(path, overwrite=overwrite, hint=hint)
    remove_stale_temporaries(path)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        with _removed_on_termination(tmp):
            yield tmp
            if not overwrite and path.exists():  # appeared while we were writing
                raise FileExistsError(f"{path} already exists; {hint} to replace it")
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Remove ``<name>.tmp<pid>`` files next to ``path`` whose process is gone; return them.

    A file whose process may still be running (or whose process cannot be checked, as on
    Windows) is left alone.
    """
    path = Path(path)
    pattern = re.compile(re.escape(path.name) + r"\.tmp(\d+)")
    removed = []
    try:
        candidates = list(path.parent.glob(f"{glob_escape(path.name)}.tmp*"))
    except OSError:
        return []
    for candidate in candidates:
        match = pattern.fullmatch(candidate.name)
        if match and not _pid_alive(int(match.group(1))):
            try:
                candidate.unlink()
                removed.append(candidate)
            except OSError:
                pass
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped (``[`` ``*`` ``?``)."""
    return re.sub(r"([\[\]*?])", r"[\1]", name)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftover: this process is not writing it now
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists but belongs to someone else, or cannot tell
    return True


@contextmanager
def _removed_on_termination(tmp: Path) -> Iterator[None]:
    """While the block runs, a terminating signal removes ``tmp`` before killing the process.

    Only signals left at their default action are touched (a program's own handlers stay), and
    only in the main thread (Python installs handlers nowhere else).
    """
    if threading.current_thread() is not threading.main_thread() or sys.platform == "win32":
        yield
        return
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        tmp.unlink(missing_ok=True)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    for name in _TERMINATING:
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
