"""``EpisodicMemory``: whole episodes stored compactly, with FAISS indexes over their keys.

Why one module of this size: ``EpisodicMemory`` is one class (storage in chunks, persistence
with checksums, key-index upkeep); the key index itself is in :mod:`agents.memory.keys` and
retrieval in :mod:`agents.memory.retrieval`.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from agents.memory._faiss import validate_threads
from agents.memory.keys import (
    MAZE_EMBEDDING_DIM,
    DefaultFeaturizer,
    Featurizer,
    IndexParams,
    KeyIndex,
    maze_embedding,
)
from latent_gridworld.arrays import EpisodeArrays, read_arrays, write_arrays
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.episode import Episode
from latent_gridworld.fileio import check_output_path
from latent_gridworld.integrity import FileFormatError

MEMORY_FORMAT = "latent-gridworld-memory"
MEMORY_VERSION = 1
_FLUSH_EVERY = 512  # single adds are batched into columnar chunks of this many episodes
_CACHE_SIZE = 4096  # oracle results kept per (maze, placement, goal, kind) until the memory grows


class _Growable:
    """A 1-D or 2-D array that grows by doubling (amortised O(1) appends)."""

    def __init__(self, width: int | None, dtype: Any) -> None:
        shape = (1024,) if width is None else (1024, width)
        self._data = np.zeros(shape, dtype=dtype)
        self.n = 0

    def extend(self, rows: np.ndarray) -> None:
        n = self.n + len(rows)
        if n > len(self._data):
            grown = np.zeros((max(n, 2 * len(self._data)), *self._data.shape[1:]), self._data.dtype)
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n : n] = rows
        self.n = n

    @property
    def array(self) -> np.ndarray:
        view = self._data[: self.n]
        view.flags.writeable = False
        return view


class EpisodicMemory:
    """Past episodes plus FAISS indexes over their keys.

    Episodes live in columnar chunks (:class:`~latent_gridworld.datasets.EpisodeArrays`: views
    and actions uint8); :meth:`extend` with a dataset keeps a reference to its arrays instead of
    copying. Two indexes are kept:

    - the **key index** (``key_dim`` wide): keys from ``featurizer`` (default
      :class:`~agents.memory.keys.DefaultFeaturizer`) or given to :meth:`add`; searched by
      :meth:`search` and ``knn`` retrieval. Its FAISS type follows ``index`` (``"auto"``: exact
      flat below ``params.flat_threshold`` keys, IVF above; or ``"flat"``, ``"ivf"``,
      ``"hnsw"``).
    - the **oracle index**: exact flat, structured keys ``[maze_embedding(maze), seen]``.

    Args:
        n_object_types: Object vocabulary size of the episodes.
        key_dim: Width of external keys. ``None`` uses the featurizer's ``dim``. With a
            ``key_dim`` and no featurizer, :meth:`add` needs explicit keys.
        index: FAISS index type of the key index.
        threads: FAISS OpenMP threads (default 1: safe beside torch; see docs/memory.md).
        featurizer: Key function for episodes and queries (default: the fixed featurizer).
        params: Index thresholds and tuning.

    >>> from latent_gridworld.datasets import generate_dataset
    >>> memory = EpisodicMemory(n_object_types=8)
    >>> memory.extend(generate_dataset(episodes=20, seed=0))
    range(0, 20)
    >>> scores, ids = memory.search(memory.keys[3], k=1)
    >>> int(ids[0]), len(memory)
    (3, 20)
    """

    def __init__(
        self,
        n_object_types: int = 8,
        key_dim: int | None = None,
        index: str = "auto",
        threads: int = 1,
        featurizer: Featurizer | None = None,
        params: IndexParams | None = None,
    ) -> None:
        if (
            isinstance(n_object_types, bool)
            or not isinstance(n_object_types, int)
            or not (1 <= n_object_types <= 26)
        ):
            raise ValueError(f"n_object_types must be an integer in 1..26, got {n_object_types!r}")
        self.n_object_types = n_object_types
        self.threads = validate_threads(threads)
        if featurizer is None and key_dim is None:
            featurizer = DefaultFeaturizer(n_object_types)
        if featurizer is not None and not isinstance(featurizer, Featurizer):
            raise TypeError("featurizer must have dim, episode_keys() and query_keys()")
        if featurizer is not None and key_dim is not None and featurizer.dim != key_dim:
            raise ValueError(
                f"key_dim {key_dim} differs from the featurizer's dim {featurizer.dim}"
            )
        self.featurizer = featurizer
        self.key_dim = int(key_dim if key_dim is not None else featurizer.dim)  # type: ignore[union-attr]
        self.index_kind = index
        self._keys = KeyIndex(self.key_dim, index, threads, params)
        self._oracle = KeyIndex(MAZE_EMBEDDING_DIM + n_object_types, "flat", threads)
        self._chunks: list[EpisodeArrays] = []
        self._chunk_starts: list[int] = []
        self._pending: list[Episode] = []
        self._n_chunked = 0
        self._maze = _Growable(None, np.int64)
        self._placement = _Growable(None, np.int64)
        self._seen = _Growable(n_object_types, np.bool_)
        self._cache: OrderedDict[tuple[int, int, int, bool], np.ndarray] = OrderedDict()
        self._cache_len = 0
        self._view_shape: tuple[int, ...] | None = None  # fixed by the first episode stored

    @classmethod
    def for_world(cls, world: WorldConfig, index: str = "auto", threads: int = 1) -> EpisodicMemory:
        """An empty memory for episodes of ``world``, keyed by its featurizer.

        :meth:`DefaultFeaturizer.for_world`: the maze cue is part of the ``knn`` keys when the
        world shows one. The agents, the benchmark and the probes build their memories here.
        """
        featurizer = DefaultFeaturizer.for_world(world)
        return cls(world.n_object_types, index=index, threads=threads, featurizer=featurizer)

    # -------------------------------------------------------------- size and access

    def __len__(self) -> int:
        """Number of stored episodes."""
        return self._maze.n

    def __getitem__(self, i: int) -> Episode:
        """Episode with id ``i`` (ids are 0.. in insertion order)."""
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not -n <= i < n:
            raise IndexError(f"memory id {i!r} out of range for {n} episodes")
        i = int(i) % n
        if i >= self._n_chunked:
            return self._pending[i - self._n_chunked]
        c = int(np.searchsorted(self._chunk_starts, i, side="right")) - 1
        return self._chunks[c][i - self._chunk_starts[c]]

    def episodes(self, ids: Iterable[int]) -> list[Episode]:
        """The episodes with these ids."""
        return [self[int(i)] for i in ids]

    @property
    def keys(self) -> np.ndarray:
        """``(N, key_dim)`` float32 keys of the key index (read-only)."""
        return self._keys.keys

    @property
    def maze_ids(self) -> np.ndarray:
        """``(N,)`` maze id of each stored episode."""
        return self._maze.array

    @property
    def placements(self) -> np.ndarray:
        """``(N,)`` object-placement variant of each stored episode."""
        return self._placement.array

    @property
    def seen(self) -> np.ndarray:
        """``(N, n_object_types)`` bool: object types seen in each stored episode."""
        return self._seen.array

    @property
    def built_index(self) -> str:
        """FAISS index type now in use for the key index (``flat``, ``ivf`` or ``hnsw``)."""
        return self._keys.built_kind or "flat"

    @property
    def ivf_lists(self) -> tuple[int, int] | None:
        """``(nlist, nprobe)`` of the IVF key index: lists in all, lists a search scans.

        ``None`` unless IVF is in use. With ``IndexParams(nprobe=None)`` the lists scanned
        follow the store's size (about ``ivf_scan`` keys per search).
        """
        self._flush()
        return self._keys.ivf_lists

    def nbytes(self) -> dict[str, int]:
        """Bytes held: ``episodes``, ``keys`` (with the key index), ``oracle`` and ``total``."""
        self._flush()
        payload = sum(c.nbytes for c in self._chunks)
        meta = self._maze.array.nbytes + self._placement.array.nbytes + self._seen.array.nbytes
        out = {
            "episodes": int(payload + meta),
            "keys": self._keys.nbytes,
            "oracle": self._oracle.nbytes,
        }
        out["total"] = sum(out.values())
        return out

    # -------------------------------------------------------------- adding

    def add(self, episode: Episode, key: np.ndarray | None = None) -> int:
        """Store one episode; return its id. ``key``: its ``(key_dim,)`` key (else featurized)."""
        if not isinstance(episode, Episode):
            raise TypeError(f"add() takes a latent_gridworld Episode, got {type(episode).__name__}")
        batch = EpisodeArrays.from_episodes([episode])
        keys = None if key is None else np.asarray(key)[None] if np.ndim(key) == 1 else key
        first = self._add_batch(batch, keys, reference=False)
        self._pending.append(episode)
        if len(self._pending) >= _FLUSH_EVERY:
            self._flush()
        return first

    def extend(
        self, episodes: EpisodeArrays | Sequence[Episode], keys: np.ndarray | None = None
    ) -> range:
        """Store many episodes; return their ids.

        An :class:`~latent_gridworld.datasets.EpisodeArrays` (a loaded dataset) is kept by
        reference: its arrays are not copied.
        """
        if isinstance(episodes, EpisodeArrays):
            batch = episodes
        else:
            episodes = list(episodes)
            if not episodes:
                return range(len(self), len(self))
            batch = EpisodeArrays.from_episodes(episodes)
        first = self._add_batch(batch, keys, reference=True)
        return range(first, len(self))

    def _add_batch(self, batch: EpisodeArrays, keys: Any, reference: bool) -> int:
        if batch.n_object_types != self.n_object_types:
            raise ValueError(
                f"episodes have {batch.n_object_types} object types; this memory stores "
                f"{self.n_object_types}"
            )
        if len(batch) == 0:
            return len(self)
        view_shape = tuple(int(d) for d in batch.views.shape[1:])
        if self._view_shape is not None and view_shape != self._view_shape:
            raise ValueError(
                f"episode views are {_shape_text(view_shape)} but this memory stores "
                f"{_shape_text(self._view_shape)} views (fixed by its first episode); keep "
                "episodes of each view size in their own EpisodicMemory"
            )
        if keys is None:
            if self.featurizer is None:
                raise ValueError(
                    "this memory has no featurizer (it was built with key_dim only): pass keys"
                )
            keys = self.featurizer.episode_keys(batch)
        keys = self._keys.check(keys, "keys")
        if len(keys) != len(batch):
            raise ValueError(f"{len(keys)} keys for {len(batch)} episodes")
        structured = self._structured_keys(batch.maze, batch.placement, batch.seen)
        first = len(self)
        # the indexes first: a failure there leaves the payload untouched
        self._keys.add(keys)
        self._oracle.add(structured)
        self._maze.extend(batch.maze)
        self._placement.extend(batch.placement)
        self._seen.extend(batch.seen)
        self._view_shape = view_shape
        if reference:
            self._flush()
            self._chunks.append(batch)
            self._chunk_starts.append(self._n_chunked)
            self._n_chunked += len(batch)
        return first

    def _flush(self) -> None:
        if self._pending:
            chunk = EpisodeArrays.from_episodes(self._pending)
            self._chunks.append(chunk)
            self._chunk_starts.append(self._n_chunked)
            self._n_chunked += len(chunk)
            self._pending = []

    def _structured_keys(
        self, maze: np.ndarray, placement: np.ndarray, seen: np.ndarray
    ) -> np.ndarray:
        return np.hstack([maze_embedding(maze, placement), seen.astype(np.float32)])

    # -------------------------------------------------------------- searching

    def search(self, query: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` stored keys with the highest inner product with ``query``.

        Args:
            query: ``(key_dim,)`` or ``(n, key_dim)`` float array.
            k: Results per query (>= 1); more than the memory holds returns what there is.

        Returns:
            ``(scores, ids)``: float32 and int64 arrays, ``(min(k, N),)`` for a 1-D query or
            ``(n, min(k, N))`` for a batch, best first. Empty memory: empty arrays.
        """
        single = np.ndim(query) == 1
        scores, ids = self._keys.search(query, k)
        keep = ids[0] >= 0 if single else slice(None)
        return (scores[0][keep], ids[0][keep]) if single else (scores, ids)

    def search_episodes(self, query: Any, k: int) -> list[tuple[Episode, float]]:
        """Like :meth:`search` for one query, returning ``(episode, score)`` pairs."""
        if np.ndim(query) != 1:
            raise ValueError("search_episodes takes one (key_dim,) query")
        scores, ids = self.search(query, k)
        return [(self[int(i)], float(s)) for s, i in zip(scores, ids)]

    def relevant_ids(self, maze: int, goal: int, placement: int = 0) -> np.ndarray:
        """Ids of episodes in ``maze`` (and ``placement``) that saw ``goal``, via the oracle index.

        One exact range search over the structured keys (threshold 1.5: same maze and goal seen
        score 2, same maze without the goal 1, another maze with the goal ``1 + cos`` with
        ``cos ~ N(0, 1/24)``), then the few near-collisions are dropped by comparing stored ids.
        Results are cached until the memory grows.
        """
        return self._oracle_search(maze, goal, placement, relevant=True)

    def same_maze_without(self, maze: int, goal: int, placement: int = 0) -> np.ndarray:
        """Ids of episodes in ``maze`` that did not see ``goal`` (hard distractors).

        Query ``[maze_embedding; -onehot(goal)]``, threshold 0.5: same maze without the goal
        scores 1, with it 0, another maze ``cos`` or ``cos - 1``.
        """
        return self._oracle_search(maze, goal, placement, relevant=False)

    def _oracle_search(self, maze: int, goal: int, placement: int, relevant: bool) -> np.ndarray:
        if (
            isinstance(goal, bool)
            or not isinstance(goal, (int, np.integer))
            or not (0 <= goal < self.n_object_types)
        ):
            raise ValueError(f"goal {goal!r} outside 0..{self.n_object_types - 1}")
        if int(maze) < 0 or int(placement) < 0:
            raise ValueError(f"maze and placement must be non-negative, got {maze}, {placement}")
        key = (int(maze), int(placement), int(goal), relevant)
        if self._cache_len != len(self):
            self._cache.clear()
            self._cache_len = len(self)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        q = np.zeros(MAZE_EMBEDDING_DIM + self.n_object_types, dtype=np.float32)
        q[:MAZE_EMBEDDING_DIM] = maze_embedding(np.array([maze]), np.array([placement]))[0]
        q[MAZE_EMBEDDING_DIM + goal] = 1.0 if relevant else -1.0
        _, ids = self._oracle.range_search(q, 1.5 if relevant else 0.5)
        seen = self.seen[ids, goal]
        ok = (self.maze_ids[ids] == maze) & (self.placements[ids] == placement)
        ok &= seen if relevant else ~seen
        out = np.sort(ids[ok])
        out.flags.writeable = False
        self._cache[key] = out
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return out

    # -------------------------------------------------------------- persistence

    def _header_and_arrays(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        self._flush()
        key_header, key_arrays = self._keys.state()
        header: dict[str, Any] = {
            "format": MEMORY_FORMAT,
            "version": MEMORY_VERSION,
            "n_episodes": len(self),
            "n_object_types": self.n_object_types,
            "key_dim": self.key_dim,
            "index": key_header,
            "featurizer": _featurizer_header(self.featurizer),
        }
        arrays = {f"key_{name}": a for name, a in key_arrays.items()}
        if self._chunks:
            columns = EpisodeArrays.concatenate(self._chunks).columns()
            arrays.update({f"episode_{name}": a for name, a in columns.items()})
        return header, arrays

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> str:
        """Write the memory to ``path`` (npz + JSON header, no pickle); return its content hash.

        The path is checked before the arrays are gathered; the file is written to a temporary
        file next to ``path`` (removed if the save fails or is interrupted) and renamed into
        place.

        Raises:
            FileExistsError: ``path`` exists and ``overwrite`` is false.
            IsADirectoryError, NotADirectoryError, PermissionError: ``path`` cannot be written.
        """
        check_output_path(path, overwrite=overwrite)
        header, arrays = self._header_and_arrays()
        return write_arrays(path, header, arrays, overwrite=overwrite)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        key_dim: int | None = None,
        n_object_types: int | None = None,
        featurizer: Featurizer | None = None,
        threads: int = 1,
    ) -> EpisodicMemory:
        """Read a memory written by :meth:`save`. Never unpickles.

        Args:
            path: The file.
            key_dim: If given, the file's key dimension must equal it.
            n_object_types: If given, the file's object vocabulary must equal it.
            featurizer: For a memory saved with a custom featurizer (the default one is
                rebuilt from the file).
            threads: FAISS threads of the loaded memory.

        Raises:
            FileFormatError: truncated, corrupted, another format or version, or a dimension
                that does not match; nothing is half-loaded.
        """
        header, arrays = read_arrays(path, MEMORY_FORMAT, (MEMORY_VERSION,))
        try:
            return cls._from_state(header, arrays, key_dim, n_object_types, featurizer, threads)
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, FileFormatError):
                raise
            raise FileFormatError(f"{path}: {err}") from err

    @classmethod
    def _from_state(
        cls,
        header: dict[str, Any],
        arrays: dict[str, np.ndarray],
        key_dim: int | None,
        n_object_types: int | None,
        featurizer: Featurizer | None,
        threads: int,
    ) -> EpisodicMemory:
        n_types, dim, n = header["n_object_types"], header["key_dim"], header["n_episodes"]
        if key_dim is not None and key_dim != dim:
            raise FileFormatError(f"the file has key dimension {dim}, expected {key_dim}")
        if n_object_types is not None and n_object_types != n_types:
            raise FileFormatError(f"the file has {n_types} object types, expected {n_object_types}")
        if featurizer is None and header["featurizer"].get("name") == "default":
            featurizer = DefaultFeaturizer(**header["featurizer"]["config"])
        if featurizer is not None and featurizer.dim != dim:
            raise FileFormatError(
                f"the featurizer's dim {featurizer.dim} differs from the file's key dimension {dim}"
            )
        keys = KeyIndex.from_state(
            header["index"],
            {k[4:]: v for k, v in arrays.items() if k.startswith("key_")},
            threads,
        )
        columns = {k[8:]: v for k, v in arrays.items() if k.startswith("episode_")}
        chunk = EpisodeArrays(columns) if columns else None
        if (len(chunk) if chunk is not None else 0) != n or len(keys) != n or keys.dim != dim:
            raise FileFormatError(
                f"the file lists {n} episodes of key dimension {dim} but holds "
                f"{len(chunk) if chunk is not None else 0} episodes and {len(keys)} keys of "
                f"dimension {keys.dim}"
            )
        if chunk is not None and chunk.n_object_types != n_types:
            raise FileFormatError(
                f"episodes have {chunk.n_object_types} object types, header says {n_types}"
            )
        memory = cls(
            n_types,
            key_dim=dim,
            index=keys.kind,
            threads=threads,
            featurizer=featurizer,
            params=keys.params,
        )
        memory._keys = keys
        if chunk is not None:
            memory._oracle.add(memory._structured_keys(chunk.maze, chunk.placement, chunk.seen))
            memory._maze.extend(chunk.maze)
            memory._placement.extend(chunk.placement)
            memory._seen.extend(chunk.seen)
            memory._chunks, memory._chunk_starts, memory._n_chunked = [chunk], [0], n
            memory._view_shape = tuple(int(d) for d in chunk.views.shape[1:])
        return memory

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle support for sending a memory to worker processes (arrays and plain data only).

        Files written by :meth:`save` never use pickle; this only serves ``multiprocessing``.
        """
        header, arrays = self._header_and_arrays()
        return (_rebuild, (header, arrays, self.threads, self.featurizer))


def _rebuild(
    header: dict[str, Any], arrays: dict[str, np.ndarray], threads: int, featurizer: Any
) -> EpisodicMemory:
    return EpisodicMemory._from_state(header, arrays, None, None, featurizer, threads)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def _featurizer_header(featurizer: Featurizer | None) -> dict[str, Any]:
    if featurizer is None:
        return {"name": None}
    if isinstance(featurizer, DefaultFeaturizer):
        return {"name": "default", "config": featurizer.config()}
    return {"name": f"{type(featurizer).__module__}.{type(featurizer).__qualname__}"}
