"""Retrieval modes behind one interface (``oracle``, ``knn``, ``none``) and context trimming."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from agents.memory.keys import Featurizer, KeyIndex, RetrievalQuery
from agents.memory.store import EpisodicMemory
from latent_gridworld.arrays import EpisodeArrays
from latent_gridworld.episode import Episode

RETRIEVAL_MODES = ("oracle", "knn", "none")
TRIM_MODES = ("visible", "goal", "route", "recent", "uniform")
RELEVANT_GOALS = ("any", "other")


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


class Retriever:
    """Base class: ``retrieve(query, k, rng) -> list[Episode]`` (possibly empty).

    Subclasses implement :meth:`retrieve_ids`.
    """

    mode = "base"

    def __init__(self, memory: EpisodicMemory | None) -> None:
        self.memory = memory

    def retrieve_ids(
        self, query: RetrievalQuery, k: int = 3, rng: np.random.Generator | int | None = None
    ) -> np.ndarray:
        """Memory ids of the episodes :meth:`retrieve` returns, in the same order."""
        raise NotImplementedError

    def retrieve(
        self, query: RetrievalQuery, k: int = 3, rng: np.random.Generator | int | None = None
    ) -> list[Episode]:
        """Episodes for ``query``: at most ``k``."""
        ids = self.retrieve_ids(query, k, rng)
        return [] if self.memory is None else self.memory.episodes(ids)

    def retrieve_many(
        self,
        queries: Sequence[RetrievalQuery],
        k: int = 3,
        rng: np.random.Generator | int | None = None,
    ) -> list[list[Episode]]:
        """:meth:`retrieve` for each query (``knn`` batches them into one FAISS call)."""
        gen = _rng(rng)
        return [self.retrieve(q, k, gen) for q in queries]


class NoRetriever(Retriever):
    """The baseline: never retrieves anything."""

    mode = "none"

    def retrieve_ids(
        self, query: RetrievalQuery, k: int = 3, rng: np.random.Generator | int | None = None
    ) -> np.ndarray:
        """Always empty."""
        _check_k(k)
        return np.zeros(0, dtype=np.int64)


class OracleRetriever(Retriever):
    """Perfect recall, imperfect precision: relevant episodes plus distractors.

    A *relevant* episode is one in the query's maze (and placement) in which the goal object was
    seen; a *distractor* is any other episode (another maze, or the same maze without the goal).
    Both are found with exact FAISS range searches over structured keys (see
    :meth:`EpisodicMemory.relevant_ids`), so every stored relevant episode can be drawn.

    Args:
        memory: The memory.
        n_relevant: Relevant episodes per retrieval (fewer if fewer are stored; 0 gives the
            distractor-only control).
        n_distractors: Distractors per retrieval.
        same_maze_distractors: Probability that a distractor is drawn from the same maze
            (episodes that did not see the goal), when there are any; otherwise it comes from
            other mazes.
        shuffle: Shuffle the returned episodes so their position does not reveal relevance.
        relevant_goal: ``"any"``: any relevant episode; ``"other"``: prefer relevant episodes
            whose goals did not include the query's goal (the goal was only passed on the way
            to something else), falling back to any when there are none. A latent query can
            only ever retrieve such episodes; ``"other"`` makes explicit queries match it, so
            that reading the goal's location from a retrieved episode's *views* is the only
            skill retrieval teaches (ours, not the paper's).
    """

    mode = "oracle"

    def __init__(
        self,
        memory: EpisodicMemory,
        n_relevant: int = 1,
        n_distractors: int = 2,
        same_maze_distractors: float = 0.5,
        shuffle: bool = True,
        relevant_goal: str = "any",
    ) -> None:
        super().__init__(memory)
        if relevant_goal not in RELEVANT_GOALS:
            raise ValueError(
                f"unknown relevant_goal {relevant_goal!r}; valid: {', '.join(RELEVANT_GOALS)}"
            )
        self.relevant_goal = relevant_goal
        self._other_goal_cache: dict[tuple[int, int, int, int], np.ndarray] = {}
        for name, value in (("n_relevant", n_relevant), ("n_distractors", n_distractors)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if not 0.0 <= same_maze_distractors <= 1.0:
            raise ValueError(
                f"same_maze_distractors must be in [0, 1], got {same_maze_distractors}"
            )
        self.n_relevant = n_relevant
        self.n_distractors = n_distractors
        self.same_maze_distractors = float(same_maze_distractors)
        self.shuffle = shuffle

    def retrieve_ids(
        self, query: RetrievalQuery, k: int = 3, rng: np.random.Generator | int | None = None
    ) -> np.ndarray:
        """``n_relevant`` relevant ids and ``n_distractors`` distractor ids, at most ``k``.

        Relevant ones are kept first when ``k`` cuts; the result is then shuffled.
        """
        k = _check_k(k)
        gen = _rng(rng)
        memory = self.memory
        assert memory is not None
        exclude = np.asarray(query.exclude, dtype=np.int64)
        relevant = memory.relevant_ids(query.maze, query.goal, query.placement)
        if self.relevant_goal == "other":
            relevant = self._passed_by(relevant, query)
        if len(exclude):
            relevant = np.setdiff1d(relevant, exclude)
        n_rel = min(self.n_relevant, len(relevant), k)
        chosen_rel = gen.choice(relevant, size=n_rel, replace=False) if n_rel else relevant[:0]
        n_dis = min(self.n_distractors, k - n_rel)
        distractors = self._distractors(query, n_dis, gen, exclude)
        ids = np.concatenate([chosen_rel, distractors]).astype(np.int64)
        if self.shuffle:
            ids = gen.permutation(ids)
        return ids

    def _passed_by(self, relevant: np.ndarray, query: RetrievalQuery) -> np.ndarray:
        """The relevant ids whose episode never had the query's goal as a goal (or all)."""
        assert self.memory is not None
        key = (int(query.maze), int(query.placement), int(query.goal), len(self.memory))
        if self._other_goal_cache and next(iter(self._other_goal_cache))[3] != key[3]:
            self._other_goal_cache.clear()  # the memory grew: stored answers may be stale
        if key not in self._other_goal_cache:
            goal = int(query.goal)
            other = [i for i in relevant if goal not in self.memory[int(i)].goals]
            self._other_goal_cache[key] = np.asarray(other, dtype=np.int64) if other else relevant
        return self._other_goal_cache[key]

    def _distractors(
        self, query: RetrievalQuery, n: int, gen: np.random.Generator, exclude: np.ndarray
    ) -> np.ndarray:
        memory = self.memory
        assert memory is not None
        if n == 0 or len(memory) == 0:
            return np.zeros(0, dtype=np.int64)
        same = memory.same_maze_without(query.maze, query.goal, query.placement)
        if len(exclude):
            same = np.setdiff1d(same, exclude)
        n_same = int((gen.random(n) < self.same_maze_distractors).sum()) if len(same) else 0
        n_same = min(n_same, len(same))
        picked = [gen.choice(same, size=n_same, replace=False)] if n_same else []
        other = self._other_maze(query, n - n_same, gen, exclude)
        picked.append(other)
        if n_same + len(other) < n and len(same) > n_same:  # too few other mazes: use same maze
            rest = np.setdiff1d(same, picked[0] if n_same else [])
            extra = min(n - n_same - len(other), len(rest))
            picked.append(gen.choice(rest, size=extra, replace=False))
        return np.concatenate(picked).astype(np.int64)

    def _other_maze(
        self, query: RetrievalQuery, n: int, gen: np.random.Generator, exclude: np.ndarray
    ) -> np.ndarray:
        """``n`` distinct ids from other mazes: vectorised rejection sampling, then a fallback."""
        memory = self.memory
        assert memory is not None
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        mazes, placements, total = memory.maze_ids, memory.placements, len(memory)
        for _ in range(4):
            cand = np.unique(gen.integers(total, size=8 * n + 16))
            ok = (mazes[cand] != query.maze) | (placements[cand] != query.placement)
            cand = np.setdiff1d(cand[ok], exclude) if len(exclude) else cand[ok]
            if len(cand) >= n:
                return gen.choice(cand, size=n, replace=False)
        # the query's maze dominates the memory: take every other-maze id (one vector op)
        cand = np.flatnonzero((mazes != query.maze) | (placements != query.placement))
        cand = np.setdiff1d(cand, exclude)
        return gen.choice(cand, size=min(n, len(cand)), replace=False)


class KnnRetriever(Retriever):
    """Nearest stored episodes to a query built from what the agent has seen and its goal.

    With ``featurizer=None`` (or the memory's own featurizer) it searches the memory's key
    index. Another featurizer (e.g. the agent's encoder) gets its own index over the same
    episodes, kept in step with the memory as it grows.
    """

    mode = "knn"

    def __init__(self, memory: EpisodicMemory, featurizer: Featurizer | None = None) -> None:
        super().__init__(memory)
        if featurizer is None:
            if memory.featurizer is None:
                raise ValueError(
                    "knn retrieval needs a featurizer: the memory has none (built with key_dim "
                    "only); pass featurizer="
                )
            featurizer = memory.featurizer
        if not isinstance(featurizer, Featurizer):
            raise TypeError("featurizer must have dim, episode_keys() and query_keys()")
        self.featurizer = featurizer
        self._own: KeyIndex | None = None
        if featurizer is not memory.featurizer:
            self._own = KeyIndex(featurizer.dim, memory.index_kind, memory.threads)

    def _sync(self) -> None:
        memory = self.memory
        assert memory is not None
        if self._own is not None and len(self._own) < len(memory):
            new = EpisodeArrays.from_episodes(memory.episodes(range(len(self._own), len(memory))))
            self._own.add(self.featurizer.episode_keys(new))

    def _search(self, queries: Sequence[RetrievalQuery], k: int) -> list[np.ndarray]:
        memory = self.memory
        assert memory is not None
        self._sync()
        q = self.featurizer.query_keys(queries)
        widest = max((len(x.exclude) for x in queries), default=0)
        if self._own is not None:
            _, ids = self._own.search(q, k + widest)
        else:
            _, ids = memory.search(q, k + widest)
        out = []
        for query, row in zip(queries, ids):
            row = row[row >= 0]
            if query.exclude:
                row = row[~np.isin(row, np.asarray(query.exclude))]
            out.append(row[:k])
        return out

    def retrieve_ids(
        self, query: RetrievalQuery, k: int = 3, rng: np.random.Generator | int | None = None
    ) -> np.ndarray:
        """The ``k`` best-scoring ids, best first (``rng`` is unused: knn is deterministic)."""
        return self._search([query], _check_k(k))[0]

    def retrieve_many(
        self,
        queries: Sequence[RetrievalQuery],
        k: int = 3,
        rng: np.random.Generator | int | None = None,
    ) -> list[list[Episode]]:
        """One FAISS call for all ``queries``."""
        memory = self.memory
        assert memory is not None
        if not queries:
            return []
        return [memory.episodes(ids) for ids in self._search(queries, _check_k(k))]


def make_retriever(
    mode: str,
    memory: EpisodicMemory | None,
    n_relevant: int = 1,
    n_distractors: int = 2,
    featurizer: Featurizer | None = None,
    **kwargs: Any,
) -> Retriever:
    """A retriever of ``mode`` (``oracle``, ``knn`` or ``none``) over ``memory``.

    Args:
        mode: Retrieval mode.
        memory: The memory (may be ``None`` for ``none``).
        n_relevant: ``oracle``: relevant episodes per retrieval.
        n_distractors: ``oracle``: distractors per retrieval.
        featurizer: ``knn``: query/key featurizer (default: the memory's).
        **kwargs: More ``oracle`` options (``same_maze_distractors``, ``shuffle``).

    >>> make_retriever("none", None).retrieve(RetrievalQuery(maze=0, goal=1))
    []
    """
    if mode not in RETRIEVAL_MODES:
        raise ValueError(f"unknown retrieval mode {mode!r}; valid: {', '.join(RETRIEVAL_MODES)}")
    if mode == "none":
        return NoRetriever(memory)
    if memory is None:
        raise ValueError(f"retrieval mode {mode!r} needs a memory")
    if mode == "oracle":
        return OracleRetriever(memory, n_relevant, n_distractors, **kwargs)
    if kwargs:
        raise TypeError(f"unknown knn option(s) {sorted(kwargs)}")
    return KnnRetriever(memory, featurizer)


def trim_steps(
    visible: np.ndarray,
    max_steps: int,
    prefer: str = "visible",
    goal: int | None = None,
    visible_steps: np.ndarray | None = None,
) -> np.ndarray:
    """Sorted step indices (rows of an episode's views) kept by :func:`trim`.

    ``prefer="goal"`` (needs ``goal``) keeps the steps in which ``goal`` is in view first
    (evenly spaced if there are more than ``max_steps``), then fills up as ``"visible"`` does;
    ``visible_steps`` may pass that ``"visible"`` answer in, when the caller has it cached (the
    training batches trim one episode for many goals). ``prefer="route"`` (needs ``goal``)
    keeps the steps in which ``goal`` is in view and the steps nearest to them in time (on a
    tie the later one), so the kept steps are the walk that led to the goal or away from it;
    an episode that never saw ``goal`` is trimmed as ``"visible"``.

    >>> visible = np.zeros((12, 2), dtype=bool)
    >>> visible[1, 0] = visible[10, 1] = True
    >>> trim_steps(visible, 4, "route", goal=0).tolist()
    [0, 1, 2, 3]
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    if prefer not in TRIM_MODES:
        raise ValueError(f"unknown prefer {prefer!r}; valid: {', '.join(TRIM_MODES)}")
    if prefer in ("route", "goal"):
        if goal is None:
            raise ValueError(f'prefer="{prefer}" needs the goal object type')
        pick = _route_steps if prefer == "route" else _goal_steps
        return pick(visible, max_steps, goal, visible_steps)
    n = len(visible)
    if n <= max_steps and prefer != "visible":
        return np.arange(n)
    if prefer == "recent":
        return np.arange(n - max_steps, n)
    if prefer == "uniform":
        return np.unique(np.linspace(0, n - 1, max_steps).round().astype(np.int64))
    steps = np.flatnonzero(visible.any(axis=1))
    if len(steps) == 0:  # nothing visible: the last steps still show the layout near the goal
        return np.arange(max(0, n - max_steps), n)
    if len(steps) <= max_steps:
        return steps
    # every object's first sighting, then evenly spaced visible steps
    first = np.unique(visible[steps].argmax(axis=0)[visible[steps].any(axis=0)])
    spaced = steps[np.unique(np.linspace(0, len(steps) - 1, max_steps).round().astype(np.int64))]
    keep = set(steps[first[:max_steps]].tolist())
    for s in spaced:
        if len(keep) >= max_steps:
            break
        keep.add(int(s))
    return np.array(sorted(keep), dtype=np.int64)


def _visible_steps(visible: np.ndarray, max_steps: int, cached: np.ndarray | None) -> np.ndarray:
    """The ``"visible"`` trim, from the caller's cache when it has one."""
    return trim_steps(visible, max_steps, "visible") if cached is None else cached


def _route_steps(
    visible: np.ndarray, max_steps: int, goal: int, visible_steps: np.ndarray | None
) -> np.ndarray:
    """``prefer="route"``: the goal's sightings and the steps nearest them in time."""
    seen = np.flatnonzero(visible[:, goal])
    if len(seen) == 0:
        return _visible_steps(visible, max_steps, visible_steps)
    steps = np.arange(len(visible))
    gap = np.abs(steps[:, None] - seen[None, :]).min(axis=1)
    nearest = np.lexsort((-steps, gap))[:max_steps]  # by gap, then the later step first
    return np.sort(nearest).astype(np.int64)


def _goal_steps(
    visible: np.ndarray, max_steps: int, goal: int, visible_steps: np.ndarray | None
) -> np.ndarray:
    """``prefer="goal"``: the goal's sightings (evenly spaced), then ``visible_steps``."""
    seen = np.flatnonzero(visible[:, goal])
    if len(seen) > max_steps:
        spaced = np.linspace(0, len(seen) - 1, max_steps).round().astype(int)
        seen = seen[np.unique(spaced)]
    if len(seen) == max_steps:
        return seen.astype(np.int64)
    taken = np.zeros(len(visible), dtype=bool)
    taken[seen] = True
    rest = _visible_steps(visible, max_steps, visible_steps)
    fill = rest[~taken[rest]][: max_steps - len(seen)]
    return np.sort(np.concatenate([seen, fill])).astype(np.int64)  # disjoint: the union


def trim(
    episode: Episode, max_steps: int = 10, prefer: str = "visible", goal: int | None = None
) -> Episode:
    """A shorter copy of ``episode`` that fits a context budget of ``max_steps`` steps.

    ``prefer="visible"`` keeps steps whose view shows an object (each object's first sighting
    first, then evenly spaced; the prototype, docs/prototype.md, found retrieved episodes cut
    to <= 10 such steps worked);
    ``"goal"`` keeps the steps that show object type ``goal`` first, then fills up likewise;
    ``"recent"`` keeps the last steps; ``"uniform"`` spaces them evenly. The kept steps need not
    be consecutive: ``positions`` tells where each one was. The action kept with each step is
    the one taken there; the last kept step has none (``len(actions) == len(views) - 1``).

    >>> from latent_gridworld.datasets import generate_dataset
    >>> e = generate_dataset(episodes=1, seed=0)[0]
    >>> t = trim(e, max_steps=4)
    >>> len(t.views) <= 4, len(t.actions) == len(t.views) - 1, bool(t.visible.any(axis=1).all())
    (True, True, True)
    """
    keep = trim_steps(episode.visible, max_steps, prefer, goal)
    fields = {
        "views": episode.views[keep],
        "goals": episode.goals[keep],
        "positions": episode.positions[keep],
        "visible": episode.visible[keep],
        "actions": episode.actions[keep[:-1]],
    }
    return type(episode)(**{**episode.__dict__, **fields})
