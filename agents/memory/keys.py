"""Episode keys and the FAISS index over them.

- :class:`RetrievalQuery`: what an agent knows when it asks the memory for episodes.
- :class:`Featurizer`: the pluggable protocol that turns episodes and queries into key vectors
  (an agent's own encoder can implement it); :class:`DefaultFeaturizer` is the fixed one.
- :func:`maze_embedding`: a fixed random unit vector per (maze, placement), for the oracle's
  structured keys (maze ids are unbounded, so no one-hot of fixed size).
- :class:`KeyIndex`: float32 keys plus a FAISS inner-product index whose type follows the size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from agents.memory._faiss import faiss, use_threads, validate_threads
from latent_gridworld.arrays import EpisodeArrays
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.world import observed_maze
from latent_gridworld.episode import Episode

MAZE_EMBEDDING_DIM = 24  # (24 + n_object_types) float32 per episode in the oracle index
_MAZE_EMBEDDING_SEED = 0x6D617A65  # "maze"


@dataclass(frozen=True)
class RetrievalQuery:
    """What the agent knows when it retrieves.

    Attributes:
        maze: Maze id of the current task (the oracle uses it; ``knn`` reads only the cue
            an observation shows of it, :func:`~latent_gridworld.core.world.observed_maze`).
        goal: Current goal object type.
        seen: ``(n_object_types,)`` bool, object types seen so far in this episode, or ``None``.
        history: The current episode so far (its views feed the ``knn`` query), or ``None``.
        placement: Object-placement variant of the maze (0: the maze's own).
        exclude: Memory ids never to return (e.g. the episode being trained on).
    """

    maze: int
    goal: int
    seen: np.ndarray | None = None
    history: Episode | None = None
    placement: int = 0
    exclude: tuple[int, ...] = field(default_factory=tuple)


@runtime_checkable
class Featurizer(Protocol):
    """Turns episodes into keys and queries into query vectors of the same ``dim``.

    Keys are compared by inner product; L2-normalise them for cosine similarity. Implement this
    with an agent's own encoder to let ``knn`` retrieval use learned embeddings.
    """

    dim: int

    def episode_keys(self, episodes: EpisodeArrays) -> np.ndarray:
        """``(len(episodes), dim)`` float32 keys of stored episodes."""
        ...

    def query_keys(self, queries: Sequence[RetrievalQuery]) -> np.ndarray:
        """``(len(queries), dim)`` float32 query vectors."""
        ...


def _normalize(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


def _view_hashes(views: np.ndarray) -> np.ndarray:
    """A 64-bit hash per view (rows of cell codes), vectorised over views."""
    flat = views.reshape(len(views), -1).astype(np.uint64)
    h = np.full(len(views), np.uint64(0xCBF29CE484222325), dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for j in range(flat.shape[1]):  # V*V columns, each a vector op over all views
            h = (h ^ flat[:, j]) * prime
        h ^= h >> np.uint64(33)  # murmur3 finaliser: spread the low bits used for buckets
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
    return h


class DefaultFeaturizer:
    """The fixed featurizer: the maze cue, the objects seen, and a hashed set of the views seen.

    An episode's key is ``[cue_weight * onehot(cue), object_weight * seen / sqrt(#seen),
    view_weight * v]`` (L2 normalised), where ``cue`` is the maze cue its observations showed
    (:func:`~latent_gridworld.core.world.observed_maze`; only with ``n_mazes > 0``, for worlds
    with ``maze_cue=True``) and ``v`` the signed feature-hashed set of distinct views in the
    episode (normalised). A query is ``[cue_weight * onehot(cue), object_weight *
    onehot(goal), view_weight * v(history)]``: it scores episodes of the maze the agent is
    told it is in that saw the goal, and episodes that share views with what it has seen so
    far. The query's maze is read only through the cue its observation shows (every maze
    outside the pool reads the same one), so ``knn`` knows what the agent knows.

    Why the cue (ours): world v1's hub room looks alike in every maze, so from the first view
    alone ``knn`` found the goal's maze in few tasks (docs/results.md); the cue is in every
    observation of that world. ``cue_weight=2`` puts every episode of the cued maze above
    every other (keys are unit vectors); on 200 latent tasks of world v1 the top result was an
    episode of the goal's maze that saw the goal in 200 (198 with weight 1, 0 without the cue).

    >>> from latent_gridworld.datasets import generate_dataset
    >>> f = DefaultFeaturizer(n_object_types=8)
    >>> keys = f.episode_keys(generate_dataset(episodes=2, seed=0))
    >>> keys.shape, keys.dtype, bool(np.allclose(np.linalg.norm(keys, axis=1), 1))
    ((2, 128), dtype('float32'), True)
    """

    name = "default"

    def __init__(
        self,
        n_object_types: int = 8,
        view_dim: int = 120,
        object_weight: float = 1.0,
        view_weight: float = 1.0,
        n_mazes: int = 0,
        cue_weight: float = 2.0,
    ) -> None:
        if n_object_types < 1 or view_dim < 1:
            raise ValueError(
                f"n_object_types and view_dim must be >= 1, got {n_object_types}, {view_dim}"
            )
        if isinstance(n_mazes, bool) or not isinstance(n_mazes, int) or n_mazes < 0:
            raise ValueError(f"n_mazes must be an integer >= 0 (0: no maze cue), got {n_mazes!r}")
        self.n_object_types = int(n_object_types)
        self.view_dim = int(view_dim)
        self.object_weight = float(object_weight)
        self.view_weight = float(view_weight)
        self.n_mazes = n_mazes
        self.cue_weight = float(cue_weight)
        # one slot per pool maze and one that every other maze shares
        self.cue_dim = n_mazes + 1 if n_mazes else 0
        self.dim = self.cue_dim + self.n_object_types + self.view_dim

    @classmethod
    def for_world(cls, world: WorldConfig) -> DefaultFeaturizer:
        """The featurizer for episodes of ``world``: with its maze cue if it shows one."""
        return cls(world.n_object_types, n_mazes=world.n_mazes if world.maze_cue else 0)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (stored in memory files)."""
        return {
            "n_object_types": self.n_object_types,
            "view_dim": self.view_dim,
            "object_weight": self.object_weight,
            "view_weight": self.view_weight,
            "n_mazes": self.n_mazes,
            "cue_weight": self.cue_weight,
        }

    def view_features(self, views: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
        """``(n_groups, view_dim)``: normalised signed presence of the distinct views per group."""
        out = np.zeros((n_groups, self.view_dim), dtype=np.float64)
        if len(views) == 0:
            return out.astype(np.float32)
        h = _view_hashes(views)
        order = np.lexsort((h, groups))
        g, hs = groups[order], h[order]
        first = np.ones(len(hs), dtype=bool)
        first[1:] = (g[1:] != g[:-1]) | (hs[1:] != hs[:-1])
        g, hs = g[first], hs[first]
        bucket = (hs % np.uint64(self.view_dim)).astype(np.int64)
        sign = ((hs >> np.uint64(40)) & np.uint64(1)).astype(np.float64) * 2.0 - 1.0
        np.add.at(out, (g, bucket), sign)
        return _normalize(out)

    def episode_keys(self, episodes: EpisodeArrays) -> np.ndarray:
        """``(E, dim)`` float32 unit keys."""
        self._check_types(episodes.n_object_types)
        seen = episodes.seen.astype(np.float64)
        obj = seen / np.sqrt(np.maximum(seen.sum(axis=1, keepdims=True), 1.0))
        groups = np.repeat(np.arange(len(episodes)), np.diff(episodes.offsets))
        views = self.view_features(episodes.views, groups, len(episodes))
        parts = [self.object_weight * obj, self.view_weight * views]
        return _normalize(np.hstack([*self._cue_part(episodes.maze), *parts]))

    def query_keys(self, queries: Sequence[RetrievalQuery]) -> np.ndarray:
        """``(n, dim)`` float32 unit query vectors."""
        obj = np.zeros((len(queries), self.n_object_types))
        views, groups = [], []
        for i, q in enumerate(queries):
            if not 0 <= q.goal < self.n_object_types:
                raise ValueError(f"goal {q.goal} outside 0..{self.n_object_types - 1}")
            obj[i, q.goal] = 1.0
            if q.history is not None:
                self._check_types(q.history.visible.shape[1])
                views.append(q.history.views)
                groups.append(np.full(len(q.history.views), i))
        if views:
            v = self.view_features(np.concatenate(views), np.concatenate(groups), len(queries))
        else:
            v = np.zeros((len(queries), self.view_dim), dtype=np.float32)
        cue = self._cue_part(np.array([q.maze for q in queries], dtype=np.int64))
        return _normalize(np.hstack([*cue, self.object_weight * obj, self.view_weight * v]))

    def _cue_part(self, maze: np.ndarray) -> list[np.ndarray]:
        """``[cue_weight * onehot(observed cue)]``, or nothing without a cue."""
        if not self.cue_dim:
            return []
        out = np.zeros((len(maze), self.cue_dim))
        cue = observed_maze(np.asarray(maze, dtype=np.int64), self.n_mazes)
        out[np.arange(len(maze)), cue] = 1.0
        return [self.cue_weight * out]

    def _check_types(self, n: int) -> None:
        if n != self.n_object_types:
            raise ValueError(
                f"episodes have {n} object types but the featurizer was built for "
                f"{self.n_object_types}"
            )


_embedding_cache: dict[tuple[int, int], np.ndarray] = {}


def maze_embedding(maze: np.ndarray, placement: np.ndarray) -> np.ndarray:
    """``(n, MAZE_EMBEDDING_DIM)`` float32 unit vectors, a fixed random one per (maze, placement).

    Two different mazes have inner product ~N(0, 1/24); the same maze exactly 1 (to float
    rounding). The oracle therefore finds a maze's episodes with an inner-product threshold,
    then confirms the (rare) near-collisions against the stored ids.

    >>> e = maze_embedding(np.array([3, 3, 10**9]), np.array([0, 0, 0]))
    >>> bool(np.allclose(e[0], e[1])), round(float(e[0] @ e[0]), 5)
    (True, 1.0)
    """
    maze = np.asarray(maze, dtype=np.int64)
    placement = np.asarray(placement, dtype=np.int64)
    if maze.shape == (1,) and placement.shape == (1,):  # the per-query path: skip np.unique
        return _embedding(int(maze[0]), int(placement[0]))[None]
    pairs, inverse = np.unique(np.stack([maze, placement], axis=1), axis=0, return_inverse=True)
    table = np.empty((len(pairs), MAZE_EMBEDDING_DIM), dtype=np.float32)
    for j, (m, p) in enumerate(pairs):
        table[j] = _embedding(int(m), int(p))
    return table[inverse.reshape(-1)]


def _embedding(maze: int, placement: int) -> np.ndarray:
    vec = _embedding_cache.get((maze, placement))
    if vec is None:
        rng = np.random.default_rng([_MAZE_EMBEDDING_SEED, maze, placement])
        raw = rng.standard_normal(MAZE_EMBEDDING_DIM)
        vec = (raw / np.linalg.norm(raw)).astype(np.float32)
        if len(_embedding_cache) < 1_000_000:  # bounded: the maze stream is unlimited
            _embedding_cache[(maze, placement)] = vec
    return vec


# ------------------------------------------------------------------------------------------
# the index

INDEX_KINDS = ("auto", "flat", "ivf", "hnsw")


@dataclass(frozen=True)
class IndexParams:
    """How :class:`KeyIndex` picks and tunes its FAISS index.

    Attributes:
        flat_threshold: ``index="auto"`` uses an exact ``IndexFlatIP`` below this many keys and
            IVF at or above it (measured in ``benchmarks/memory_throughput.py``).
        nlist: IVF lists (``None``: ``clip(2 * sqrt(N), 64, 2048)`` at build time).
        nprobe: IVF lists searched. ``None``: enough lists to scan about ``ivf_scan`` keys,
            ``clip(ceil(ivf_scan * nlist / N), 16, nlist)``, updated as the store grows.
        ivf_scan: Keys an IVF search scans when ``nprobe`` is ``None``. On 100k and 1M real
            episode keys (benchmarks/memory_throughput.py) scanning ~10k keys gave recall@8
            0.95-0.98; the share of lists needed falls as the store grows.
        hnsw_m: HNSW graph degree.
        ef_construction: HNSW build beam.
        ef_search: HNSW search beam.
        train_per_list: IVF training points per list (k-means sample size).
    """

    flat_threshold: int = 50_000
    nlist: int | None = None
    nprobe: int | None = None
    ivf_scan: int = 10_000
    hnsw_m: int = 32
    ef_construction: int = 64
    ef_search: int = 64
    train_per_list: int = 64


class KeyIndex:
    """Float32 keys (ids ``0..N-1`` in insertion order) with an inner-product FAISS index.

    ``kind="auto"`` keeps an exact flat index below ``params.flat_threshold`` keys and switches
    to IVF above it, retraining whenever the store has doubled since the last training (so the
    lists follow what was added later; the total training cost stays linear in N).
    """

    def __init__(
        self, dim: int, kind: str = "auto", threads: int = 1, params: IndexParams | None = None
    ) -> None:
        if kind not in INDEX_KINDS:
            raise ValueError(f"unknown index {kind!r}; valid: {', '.join(INDEX_KINDS)}")
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"key dimension must be a positive integer, got {dim!r}")
        self.dim = int(dim)
        self.kind = kind
        self.threads = validate_threads(threads)
        self.params = params or IndexParams()
        self._n = 0  # the keys live in the FAISS index only (one copy)
        self._index: Any = None
        self._quantizer: Any = None  # kept alive beside the IVF index that points to it
        self.built_kind = ""
        self._trained_at = 0

    def __len__(self) -> int:
        """Number of keys."""
        return self._n

    @property
    def keys(self) -> np.ndarray:
        """``(N, dim)`` float32 keys, reconstructed from the index (a read-only copy)."""
        if self._index is None or self._n == 0:
            out = np.zeros((0, self.dim), dtype=np.float32)
        else:
            out = self._index.reconstruct_n(0, self._n)
        out.flags.writeable = False
        return out

    @property
    def ivf_lists(self) -> tuple[int, int] | None:
        """``(nlist, nprobe)``: IVF lists in all, lists the next search scans; None if not IVF."""
        if self.built_kind != "ivf" or self._index is None:
            return None
        nlist = int(self._index.nlist)
        return nlist, self._nprobe(nlist, self._n)

    @property
    def nbytes(self) -> int:
        """Bytes held by the FAISS index (vectors, ids, lists, graph)."""
        if self._index is None:
            return 0
        vectors = self._n * self.dim * 4
        if self.built_kind == "flat":
            return vectors
        if self.built_kind == "ivf":  # vectors + list ids + direct map + centroids
            return vectors + 16 * self._n + int(self._index.nlist) * self.dim * 4
        return len(faiss.serialize_index(self._index))

    def check(self, keys: Any, what: str = "keys") -> np.ndarray:
        """``keys`` as a C-contiguous ``(n, dim)`` float32 array; ValueError otherwise."""
        a = np.asarray(keys)
        if a.dtype.kind != "f":
            raise ValueError(f"{what} must be a float array (float32), got dtype {a.dtype}")
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2 or a.shape[1] != self.dim:
            raise ValueError(
                f"{what} must have shape ({self.dim},) or (n, {self.dim}), got {np.shape(keys)}"
            )
        if not np.isfinite(a).all():
            raise ValueError(f"{what} contain NaN or infinite values")
        return np.ascontiguousarray(a, dtype=np.float32)

    def add(self, keys: Any) -> None:
        """Append keys (ids continue from ``len(self)``)."""
        new = self.check(keys)
        n = self._n + len(new)
        want = self._wanted_kind(n)
        retrain = want == "ivf" and n >= 2 * self._trained_at
        if self._index is None or want != self.built_kind or retrain:
            everything = np.concatenate([self.keys, new]) if self._n else new
            self._build(want, everything)
        else:
            use_threads(self.threads)
            self._index.add(new)
        self._n = n

    def _wanted_kind(self, n: int) -> str:
        if self.kind != "auto":
            return self.kind
        return "flat" if n < self.params.flat_threshold else "ivf"

    def _build(self, kind: str, keys: np.ndarray) -> None:
        use_threads(self.threads)
        n = len(keys)
        p = self.params
        index: Any
        quantizer: Any
        if kind == "flat":
            index = faiss.IndexFlatIP(self.dim)
            quantizer = None
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(self.dim, p.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = p.ef_construction
            index.hnsw.efSearch = p.ef_search
            quantizer = None
        else:
            nlist = p.nlist or int(np.clip(2 * np.sqrt(max(n, 1)), 64, 2048))
            nlist = max(1, min(nlist, n // 39 or 1))  # k-means wants >= 39 points per list
            quantizer = faiss.IndexFlatIP(self.dim)
            index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(0)
            n_train = min(n, p.train_per_list * nlist)
            sample = keys[np.sort(rng.choice(n, size=n_train, replace=False))]
            index.cp.seed = 0
            index.cp.max_points_per_centroid = p.train_per_list
            # unit keys, inner product: spherical k-means partitions them better (measured on
            # 100k real keys: recall@8 0.937 -> 0.958 at the same nprobe)
            index.cp.spherical = True
            index.train(np.ascontiguousarray(sample))
            index.nprobe = self._nprobe(nlist, n)
            index.make_direct_map()  # reconstruct() by id; maintained on add
            self._trained_at = n
        if len(keys):
            index.add(np.ascontiguousarray(keys))
        self._index, self._quantizer, self.built_kind = index, quantizer, kind

    def _nprobe(self, nlist: int, n: int) -> int:
        if self.params.nprobe is not None:
            return max(1, min(nlist, self.params.nprobe))
        wanted = -(-self.params.ivf_scan * nlist // max(n, 1))  # ceil
        return max(1, min(nlist, max(16, wanted)))

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` by inner product: ``(scores, ids)``, each ``(n, min(k, N))``.

        Missing results (an approximate index that found fewer) have id -1 and score -inf.
        """
        q = self.check(queries, "query")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        kk = min(int(k), self._n)
        if kk == 0 or self._index is None:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        use_threads(self.threads)
        if self.built_kind == "ivf":
            nprobe = self._nprobe(int(self._index.nlist), self._n)
            if nprobe != self._index.nprobe:
                self._index.nprobe = nprobe
        scores, ids = self._index.search(q, kk)
        scores[ids < 0] = -np.inf
        return scores, ids.astype(np.int64)

    def range_search(self, query: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Every id whose inner product with ``query`` exceeds ``threshold`` (exact on flat)."""
        q = self.check(query, "query")
        if self._n == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        if self.built_kind != "flat":
            raise RuntimeError("range_search is exact only on a flat index")
        use_threads(self.threads)
        lims, scores, ids = self._index.range_search(q[:1], float(threshold))
        return scores[lims[0] : lims[1]], ids[lims[0] : lims[1]].astype(np.int64)

    # -------------------------------------------------------------- persistence

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Header fields and arrays that :meth:`from_state` restores exactly."""
        header = {
            "dim": self.dim,
            "kind": self.kind,
            "built_kind": self.built_kind,
            "trained_at": self._trained_at,
            "params": self.params.__dict__,
            "n": self._n,
        }
        arrays = {}
        if self._index is not None:
            arrays["index"] = faiss.serialize_index(self._index)
        return header, arrays

    @classmethod
    def from_state(
        cls, header: dict[str, Any], arrays: dict[str, np.ndarray], threads: int = 1
    ) -> KeyIndex:
        """Rebuild from :meth:`state` (ValueError on any inconsistency)."""
        out = cls(int(header["dim"]), header["kind"], threads, IndexParams(**header["params"]))
        out._n = int(header["n"])
        out._trained_at = int(header["trained_at"])
        out.built_kind = header["built_kind"]
        if "index" in arrays:
            index = faiss.deserialize_index(np.ascontiguousarray(arrays["index"], dtype=np.uint8))
            if index.d != out.dim or index.ntotal != out._n:
                raise ValueError(
                    f"the FAISS index holds {index.ntotal} vectors of dimension {index.d}; "
                    f"expected {out._n} of dimension {out.dim}"
                )
            if out.built_kind == "ivf":
                ivf = faiss.extract_index_ivf(index)
                out._quantizer = ivf.quantizer
            out._index = index
        elif out._n:
            raise ValueError(f"{out._n} keys are listed but the FAISS index is missing")
        return out
