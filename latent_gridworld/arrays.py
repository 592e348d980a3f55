"""Columnar episodes and their files: :class:`EpisodeArrays` and deterministic ``.npz`` I/O.

The storage layer under datasets and the episodic memory: every step-level array of every
episode concatenated, plus offsets, written as one uncompressed ``.npz`` (a zip of ``.npy``
arrays) with a JSON header, byte-for-byte deterministically. It knows nothing of experts,
generation or the env, so the memory (``agents.memory``) reads and writes through it without
the dataset generator.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from latent_gridworld.core.constants import SPLITS
from latent_gridworld.episode import Episode
from latent_gridworld.fileio import OVERWRITE_HINT, atomic_write_path
from latent_gridworld.integrity import FileFormatError, seal, verify, warn_unsealed

# step-level columns (one row per observation, ``T + 1`` per episode) and their dtypes
_STEP_COLUMNS = {"views": np.uint8, "goals": np.int8, "positions": np.int16, "visible": np.bool_}
# episode-level columns
_EPISODE_COLUMNS = {
    "maze": np.int64,
    "placement": np.int64,
    "start": np.int16,
    "split": np.uint8,
    "success": np.bool_,
    "optimal_steps": np.int32,
}


# FileFormatError: a dataset or memory file is truncated, corrupted, of another format or version


# ------------------------------------------------------------------------------------------
# columnar episodes


class EpisodeArrays(Sequence[Episode]):
    """Many episodes in columns: step arrays concatenated, sliced per episode without copying.

    ``arrays[i]`` is an :class:`Episode` whose arrays are read-only views into the columns, so a
    dataset (or an :class:`agents.memory.EpisodicMemory` built from one) holds each step once.

    Attributes:
        views: ``(N, V, V)`` uint8 cell codes; ``N`` = total observations (``T_i + 1`` each).
        goals: ``(N,)`` int8 goal shown with each view.
        positions: ``(N, 2)`` int16 agent (row, col).
        visible: ``(N, n_object_types)`` bool, object types inside each view.
        actions: ``(N - E,)`` uint8 actions (``T_i`` per episode).
        offsets: ``(E + 1,)`` int64; episode ``i`` owns observations ``offsets[i]:offsets[i+1]``
            and actions ``offsets[i] - i : offsets[i+1] - i - 1``.
        maze, placement: ``(E,)`` int64 maze id and object-placement variant.
        start: ``(E, 2)`` int16 start cell.
        split: ``(E,)`` uint8 index into :data:`~latent_gridworld.core.constants.SPLITS`.
        success: ``(E,)`` bool, final goal reached.
        optimal_steps: ``(E,)`` int32 shortest-path steps of the goals announced.
    """

    def __init__(self, columns: Mapping[str, np.ndarray]) -> None:
        names = [*_STEP_COLUMNS, "actions", "offsets", *_EPISODE_COLUMNS]
        missing = [n for n in names if n not in columns]
        if missing:
            raise ValueError(f"episode columns missing: {missing}; expected {names}")
        self.views = np.asarray(columns["views"])
        self.goals = np.asarray(columns["goals"])
        self.positions = np.asarray(columns["positions"])
        self.visible = np.asarray(columns["visible"])
        self.actions = np.asarray(columns["actions"])
        self.offsets = np.asarray(columns["offsets"])
        self.maze = np.asarray(columns["maze"])
        self.placement = np.asarray(columns["placement"])
        self.start = np.asarray(columns["start"])
        self.split = np.asarray(columns["split"])
        self.success = np.asarray(columns["success"])
        self.optimal_steps = np.asarray(columns["optimal_steps"])
        self._validate()
        for array in self.columns().values():
            array.setflags(write=False)
        self._seen: np.ndarray | None = None

    def _validate(self) -> None:
        for name, dtype in {
            **_STEP_COLUMNS,
            **_EPISODE_COLUMNS,
            "actions": np.uint8,
            "offsets": np.int64,
        }.items():
            if getattr(self, name).dtype != dtype:
                raise ValueError(
                    f"column {name!r} has dtype {getattr(self, name).dtype}, expected "
                    f"{np.dtype(dtype)}"
                )
        n_episodes, n_obs = len(self.offsets) - 1, len(self.views)
        if self.offsets.ndim != 1 or n_episodes < 0 or self.offsets[0] != 0:
            raise ValueError("offsets must be a 1-D array starting at 0")
        if self.offsets[-1] != n_obs or (np.diff(self.offsets) < 1).any():
            raise ValueError(
                f"offsets must increase by >= 1 and end at the {n_obs} observations, "
                f"got last offset {self.offsets[-1]}"
            )
        for names, rows in ((_STEP_COLUMNS, n_obs), (_EPISODE_COLUMNS, n_episodes)):
            for name in names:
                if len(getattr(self, name)) != rows:
                    raise ValueError(
                        f"column {name!r} has {len(getattr(self, name))} rows, not {rows}"
                    )
        if len(self.actions) != n_obs - n_episodes:
            raise ValueError(
                f"{len(self.actions)} actions for {n_obs} observations in {n_episodes} episodes "
                f"(expected {n_obs - n_episodes}: one fewer per episode)"
            )
        if len(self.split) and int(self.split.max()) >= len(SPLITS):
            raise ValueError(f"split codes must index {SPLITS}")

    # -------------------------------------------------------------- construction

    @classmethod
    def from_episodes(cls, episodes: Iterable[Episode]) -> EpisodeArrays:
        """Copy ``episodes`` into columns (one concatenation per column)."""
        episodes = list(episodes)
        if not episodes:
            raise ValueError("from_episodes needs at least one episode")
        lengths = np.array([len(e.views) for e in episodes], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        split_code = {s: i for i, s in enumerate(SPLITS)}
        columns: dict[str, np.ndarray] = {
            name: np.concatenate([getattr(e, name) for e in episodes]).astype(dtype, copy=False)
            for name, dtype in _STEP_COLUMNS.items()
        }
        columns["actions"] = np.concatenate([e.actions for e in episodes]).astype(np.uint8)
        columns["offsets"] = offsets
        columns["maze"] = np.array([e.maze for e in episodes], dtype=np.int64)
        columns["placement"] = np.array(
            [int(getattr(e, "placement", 0)) for e in episodes], dtype=np.int64
        )
        columns["start"] = np.array([e.start for e in episodes], dtype=np.int16).reshape(-1, 2)
        try:
            columns["split"] = np.array([split_code[e.split] for e in episodes], dtype=np.uint8)
        except KeyError as err:
            raise ValueError(f"unknown split {err.args[0]!r}; valid: {SPLITS}") from None
        columns["success"] = np.array([e.success for e in episodes], dtype=np.bool_)
        columns["optimal_steps"] = np.array([e.optimal_steps for e in episodes], dtype=np.int32)
        return cls(columns)

    @staticmethod
    def concatenate(parts: Sequence[EpisodeArrays]) -> EpisodeArrays:
        """One batch holding the episodes of ``parts`` in order (copies)."""
        if not parts:
            raise ValueError("concatenate needs at least one part")
        if len(parts) == 1:
            return parts[0]
        columns = {
            name: np.concatenate([p.columns()[name] for p in parts])
            for name in parts[0].columns()
            if name != "offsets"
        }
        lengths = np.concatenate([np.diff(p.offsets) for p in parts])
        columns["offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return EpisodeArrays(columns)

    def subset(self, start: int, stop: int) -> EpisodeArrays:
        """Episodes ``start:stop`` as a new batch whose columns are views (no copy).

        >>> from latent_gridworld.datasets import generate_dataset
        >>> ds = generate_dataset(episodes=5, seed=0)
        >>> part = ds.subset(1, 3)
        >>> len(part), bool(np.shares_memory(part.views, ds.views))
        (2, True)
        """
        start, stop, _ = slice(start, stop).indices(len(self))
        stop = max(start, stop)
        lo, hi = int(self.offsets[start]), int(self.offsets[stop])
        columns = {name: getattr(self, name)[lo:hi] for name in _STEP_COLUMNS}
        columns["actions"] = self.actions[lo - start : hi - stop]
        columns["offsets"] = self.offsets[start : stop + 1] - lo
        for name in _EPISODE_COLUMNS:
            columns[name] = getattr(self, name)[start:stop]
        return EpisodeArrays(columns)

    def columns(self) -> dict[str, np.ndarray]:
        """Every column by name (the arrays themselves, read-only)."""
        names = [*_STEP_COLUMNS, "actions", "offsets", *_EPISODE_COLUMNS]
        return {name: getattr(self, name) for name in names}

    # -------------------------------------------------------------- sequence protocol

    def __len__(self) -> int:
        """Number of episodes."""
        return len(self.offsets) - 1

    @overload
    def __getitem__(self, index: int) -> Episode: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Episode]: ...

    def __getitem__(self, index: int | slice) -> Episode | Sequence[Episode]:
        """Episode ``index`` (views into the columns), or a list for a slice."""
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        i = int(index)
        if not -n <= i < n:
            raise IndexError(f"episode index {index} out of range for {n} episodes")
        i %= n
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        return Episode(
            maze=int(self.maze[i]),
            start=(int(self.start[i, 0]), int(self.start[i, 1])),
            split=SPLITS[int(self.split[i])],
            views=self.views[lo:hi],
            goals=self.goals[lo:hi],
            positions=self.positions[lo:hi],
            visible=self.visible[lo:hi],
            actions=self.actions[lo - i : hi - i - 1],
            success=bool(self.success[i]),
            optimal_steps=int(self.optimal_steps[i]),
            placement=int(self.placement[i]),
        )

    def __iter__(self) -> Iterator[Episode]:
        """Episodes in order."""
        return (self[i] for i in range(len(self)))

    # -------------------------------------------------------------- derived per-episode arrays

    @property
    def n_object_types(self) -> int:
        """Width of the ``visible`` column."""
        return int(self.visible.shape[1])

    @property
    def lengths(self) -> np.ndarray:
        """``(E,)`` actions per episode."""
        return np.diff(self.offsets) - 1

    @property
    def seen(self) -> np.ndarray:
        """``(E, n_object_types)`` bool: object types seen at any step of each episode."""
        if self._seen is None:
            if len(self) == 0:
                self._seen = np.zeros((0, self.n_object_types), dtype=bool)
            else:
                self._seen = np.logical_or.reduceat(self.visible, self.offsets[:-1], axis=0)
            self._seen.setflags(write=False)
        return self._seen

    @property
    def first_goal(self) -> np.ndarray:
        """``(E,)`` the goal announced first."""
        return self.goals[self.offsets[:-1]].astype(np.int64)

    @property
    def last_goal(self) -> np.ndarray:
        """``(E,)`` the final goal (the second one in an ICL episode)."""
        return self.goals[self.offsets[1:] - 1].astype(np.int64)

    @property
    def icl(self) -> np.ndarray:
        """``(E,)`` bool: a second goal was announced (a within-episode ICL episode)."""
        return self.first_goal != self.last_goal

    @property
    def nbytes(self) -> int:
        """Bytes held by the columns."""
        return int(sum(a.nbytes for a in self.columns().values()))


# ------------------------------------------------------------------------------------------
# deterministic npz files with a JSON header (shared with agents.memory)


def content_hash(arrays: Mapping[str, np.ndarray], header: Mapping[str, Any] | None = None) -> str:
    """sha256 over ``header`` (canonical JSON) and every array's name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    if header is not None:
        digest.update(json.dumps(header, sort_keys=True).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def full_header(header: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """``header`` plus the array list and ``content_sha256``, as :func:`write_arrays` stores it."""
    full = {k: v for k, v in header.items() if k not in ("arrays", "content_sha256")}
    full["arrays"] = {
        k: [np.asarray(v).dtype.str, list(np.shape(v))] for k, v in sorted(arrays.items())
    }
    full["content_sha256"] = content_hash(arrays, {k: v for k, v in full.items()})
    return full


def write_arrays(
    path: str | os.PathLike[str],
    header: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    *,
    overwrite: bool = False,
    hint: str = OVERWRITE_HINT,
) -> str:
    """Write ``arrays`` and a JSON ``header`` as an uncompressed ``.npz``; return the content hash.

    The header gains ``content_sha256`` (over the header and arrays) and ``arrays`` (names,
    dtypes, shapes). Zip timestamps are fixed, so equal content gives byte-identical files. The
    file is written next to ``path`` and renamed into place (:func:`atomic_write_path`), so a
    crash never leaves half a file and an interrupted write leaves no temporary file; it is
    sealed with a whole-file checksum (:func:`latent_gridworld.integrity.seal`).

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false (``hint`` says how to ask).
        IsADirectoryError, NotADirectoryError, PermissionError: ``path`` cannot be written.
    """
    if "header" in arrays:
        raise ValueError("'header' is a reserved array name")
    full = full_header(header, arrays)
    entries = {"header": np.frombuffer(json.dumps(full, sort_keys=True).encode(), np.uint8)}
    entries.update(arrays)
    with atomic_write_path(path, overwrite=overwrite, hint=hint) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, array in entries.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                with zf.open(info, "w", force_zip64=True) as f:
                    np.lib.format.write_array(
                        f, np.ascontiguousarray(array), version=(2, 0), allow_pickle=False
                    )
        seal(tmp)  # whole-file sha256: catches flips in the zip's bookkeeping too
    return str(full["content_sha256"])


def read_arrays(
    path: str | os.PathLike[str], file_format: str, versions: Sequence[int]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and verify a file from :func:`write_arrays`; never unpickles.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        FileFormatError: truncated or corrupted (zip, npy or checksum), another format, or a
            version not in ``versions``.
    """
    path = Path(path)
    # FileNotFoundError, or FileFormatError naming the file as corrupted; files from before
    # checksums load with a warning once their format is known (their arrays' hash still holds)
    sealed = verify(path, allow_unsealed=True)
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = [n for n in npz.files if n != "header"]
            if "header" not in npz.files:
                raise FileFormatError(f"{path} has no header; not a {file_format} file")
            header = json.loads(npz["header"].tobytes().decode())
            if not isinstance(header, dict):
                raise FileFormatError(f"{path}: the header is not a JSON object")
            if header.get("format") != file_format:
                raise FileFormatError(
                    f"{path} is a {header.get('format')!r} file, not a {file_format!r} file"
                )
            if header.get("version") not in versions:
                raise FileFormatError(
                    f"{path} has {file_format} version {header.get('version')!r}; this "
                    f"package reads versions {list(versions)}"
                )
            arrays = {n: npz[n] for n in names}
    except FileFormatError:
        raise
    except (
        zipfile.BadZipFile,
        ValueError,
        OSError,
        EOFError,
        KeyError,
        UnicodeDecodeError,
        json.JSONDecodeError,
    ) as err:
        raise FileFormatError(
            f"{path} is truncated or corrupted ({type(err).__name__}: {err})"
        ) from err
    listed = header.get("arrays", {})
    if sorted(listed) != sorted(arrays):
        raise FileFormatError(
            f"{path} is missing arrays {sorted(set(listed) - set(arrays))} (truncated?)"
        )
    expected = header.get("content_sha256")
    actual = content_hash(arrays, {k: v for k, v in header.items() if k != "content_sha256"})
    if actual != expected:
        raise FileFormatError(f"{path} is corrupted: content checksum mismatch")
    if not sealed:
        warn_unsealed(path)
    return header, arrays
