"""Import FAISS safely beside torch, and manage its OpenMP thread count.

Measured on the project machine (docs/memory.md): torch and faiss-cpu each load their own
OpenMP runtime. With both at 2 threads and OpenMP's default spin-waiting, one act step took
27-35 ms instead of 0.24 ms; ``OMP_WAIT_POLICY=PASSIVE`` or one thread each fixed it. A child
``fork()``ed after the parent ran a multi-threaded FAISS call hung on its first search, while
``spawn``/``forkserver`` children did not. So this module:

- sets ``OMP_WAIT_POLICY=PASSIVE`` (if unset) before FAISS's OpenMP runtime is loaded;
- defaults FAISS to 1 thread (unless ``OMP_NUM_THREADS`` is set);
- remembers whether this process ran FAISS with more than one thread, and refuses (with a clear
  error instead of a hang) to run FAISS in a forked child of such a process;
- offers :func:`worker_context`, a ``multiprocessing`` context that is safe for FAISS workers.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from multiprocessing.context import BaseContext
from typing import Any

if "faiss" in sys.modules and "OMP_WAIT_POLICY" not in os.environ:
    warnings.warn(
        "faiss was imported before agents.memory without OMP_WAIT_POLICY set; its OpenMP "
        "runtime may spin against torch's. Export OMP_WAIT_POLICY=PASSIVE or import "
        "agents.memory first (see docs/memory.md).",
        RuntimeWarning,
        stacklevel=2,
    )
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import faiss  # noqa: E402  (must come after the environment variable is set)

if "OMP_NUM_THREADS" not in os.environ:
    faiss.omp_set_num_threads(1)

_threaded_pid: int | None = None  # pid of the process that ran FAISS with > 1 thread
_current_threads = faiss.omp_get_max_threads()


def validate_threads(threads: Any) -> int:
    """``threads`` as a positive int, or ValueError naming the problem."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(
            f"threads must be a positive integer (FAISS OpenMP threads), got {threads!r}"
        )
    return threads


def use_threads(threads: int) -> None:
    """Prepare a FAISS call with ``threads`` OpenMP threads in this process.

    Raises:
        RuntimeError: this process was ``fork()``ed from one that had run FAISS with several
            threads; its first search would hang. Use :func:`worker_context` (spawn/forkserver).
    """
    global _threaded_pid, _current_threads
    pid = os.getpid()
    if _threaded_pid is not None and _threaded_pid != pid:
        raise RuntimeError(
            "FAISS used in a fork()ed child of a process that ran FAISS with several OpenMP "
            "threads: its thread pool is not fork-safe and the search would hang. Start workers "
            "with agents.memory.worker_context() (forkserver or spawn), or keep threads=1 in "
            "the parent."
        )
    if threads != _current_threads:
        faiss.omp_set_num_threads(threads)
        _current_threads = threads
    if threads > 1:
        _threaded_pid = pid


def threaded_pid() -> int | None:
    """Pid of the process that ran FAISS with several threads (``None`` if none did)."""
    return _threaded_pid


def worker_context() -> BaseContext:
    """A ``multiprocessing`` context whose workers may use FAISS: ``forkserver`` or ``spawn``.

    Workers start from a fresh interpreter (or a clean fork server), never from a fork of a
    process whose OpenMP pools are live. ``forkserver`` is POSIX only; Windows gets ``spawn``.
    """
    method = "forkserver" if sys.platform != "win32" else "spawn"
    return multiprocessing.get_context(method)


__all__ = ["faiss", "threaded_pid", "use_threads", "validate_threads", "worker_context"]
