"""Training batches, fast: samples to model inputs with cached token rows and array retrieval.

:class:`ContextMaker` turns a list of :class:`~agents.bc.data.Sample` into the collated batch
arrays of :func:`agents.bc.context.collate` (the same keys, shapes and meaning). What made the
first version slow (half of a training step) and what replaces it:

- token rows were rebuilt for every sample and every retrieved episode: now each episode's
  rows are built once (:class:`EpisodeTokens`, cached per episode) and a context is a few
  slices of them;
- the oracle went through :class:`~agents.memory.retrieval.OracleRetriever` per sample and a
  new :class:`~agents.memory.EpisodicMemory` (with FAISS indexes) per batch for the stream
  samples: now :class:`ArrayOracle` draws from the same distribution (relevant episodes, hard
  same-maze distractors at the retriever's rate, other-maze distractors, shuffled) with a few
  array operations, over the pool memory's id arrays or the batch's relevant episodes;
- trimming (:func:`agents.memory.retrieval.trim_steps`, unchanged) is cached per episode and
  goal.

``knn`` retrieval keeps the general path (the retriever per query), since its answer depends on
the featurizer.

Why one module of this size: the token cache, the array oracle and the collation are one
pipeline sharing per-episode caches (weak references to the episodes); split, each part would
reach into the others' caches.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from agents.bc.context import TOKENIZER, StepFormat, step_rows
from latent_gridworld.core.world import build_maze, observed_maze
from latent_gridworld.episode import Episode

if TYPE_CHECKING:
    from agents.bc.config import TrainConfig
    from agents.bc.data import Sample

BATCH_MAZE_IDS = 1 << 40  # far above any real maze id


class EpisodeTokens:
    """One episode's token rows, built once: current rows and memory rows are slices of them.

    Attributes:
        rows: ``(T + 1, L)`` rows with the action slot holding the *previous* action
            (``<start>`` first): row ``t < T`` is what the agent saw before acting at ``t``.
        taken: ``(T + 1,)`` the token of the action *taken* at each step (``<eos>`` at the last
            observation), for the action slot of a retrieved (memory) row.
        visible: ``(T + 1, n_object_types)`` the episode's ``visible`` (for trimming).
    """

    __slots__ = ("rows", "taken", "visible", "trims", "visible_steps")

    def __init__(self, rows: np.ndarray, taken: np.ndarray, visible: np.ndarray) -> None:
        self.rows = rows
        self.taken = taken
        self.visible = visible
        self.trims: dict[int, np.ndarray] = {}
        self.visible_steps: np.ndarray | None = None

    @classmethod
    def many(
        cls, fmt: StepFormat, episodes: Sequence[Episode], maze_cue_ids: Sequence[int]
    ) -> list[EpisodeTokens]:
        """The rows of several episodes, tokenised in one vectorised call."""
        if not episodes:
            return []
        lengths = [len(e.views) for e in episodes]
        prev = np.concatenate(
            [np.concatenate([[-1], e.actions.astype(np.int64)]) for e in episodes]
        )
        cues = np.repeat(np.asarray(maze_cue_ids, dtype=np.int64), lengths)
        rows = step_rows(
            fmt,
            np.concatenate([e.views for e in episodes]),
            np.concatenate([e.goals for e in episodes]),
            prev,
            np.concatenate([e.positions for e in episodes]),
            cues if fmt.maze_cue else None,
        )
        # the action taken at t is the previous action of t + 1 (-1, i.e. <eos>, at an
        # episode's last observation: the next one's first row)
        taken = np.full(len(prev), TOKENIZER.eos, dtype=np.int64)
        nxt = prev[1:]
        taken[:-1] = np.where(nxt >= 0, TOKENIZER.action_tokens[np.clip(nxt, 0, None)], taken[1:])
        out = []
        start = 0
        for e, n in zip(episodes, lengths, strict=True):
            out.append(cls(rows[start : start + n], taken[start : start + n], e.visible))
            start += n
        return out

    def trim(self, goal: int, budget: int, mode: str) -> np.ndarray:
        """The steps :func:`~agents.memory.retrieval.trim_steps` keeps for ``goal`` (cached)."""
        steps = self.trims.get(goal)
        if steps is None:
            from agents.memory.retrieval import trim_steps

            if self.visible_steps is None:
                self.visible_steps = trim_steps(self.visible, budget, "visible")
            if mode == "visible":
                steps = self.visible_steps
            else:
                steps = trim_steps(self.visible, budget, mode, goal, self.visible_steps)
            self.trims[goal] = steps
        return steps


def _pick(rng: np.random.Generator, ids: np.ndarray, n: int) -> np.ndarray:
    """``n`` distinct elements of ``ids``, uniformly (``rng.choice`` without replacement)."""
    if n == 0:
        return ids[:0]
    if n == 1:  # one draw, ~10x cheaper than choice
        return ids[int(rng.integers(len(ids)))][None]
    return rng.choice(ids, size=n, replace=False)


class ArrayOracle:
    """:class:`~agents.memory.retrieval.OracleRetriever`'s draw, as a few array operations.

    Same distribution: ``n_relevant`` relevant episodes (same maze and placement, goal seen;
    with ``relevant_goal="other"`` only those that never had the goal as a goal, if any), then
    ``n_distractors`` distractors, each from the same maze without the goal with probability
    ``same_maze_distractors`` (when there are any) and otherwise from another maze, distinct,
    falling back to more same-maze ones when other mazes run out; shuffled. Only the random
    stream differs from the retriever's (the draws are not the same numbers).

    Args:
        retriever: The :class:`~agents.memory.retrieval.OracleRetriever` whose settings and
            memory (the pool) this draws from.
    """

    def __init__(self, retriever: Any) -> None:
        self.retriever = retriever
        self.memory = retriever.memory
        self.n_relevant = int(retriever.n_relevant)
        self.n_distractors = int(retriever.n_distractors)
        self.p_same = float(retriever.same_maze_distractors)
        self.shuffle = bool(retriever.shuffle)
        self.other_goal = retriever.relevant_goal == "other"
        self._groups: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._others: dict[tuple[int, int], np.ndarray] = {}
        self._size = len(self.memory)

    def draw(
        self,
        rng: np.random.Generator,
        k: int,
        relevant: np.ndarray,
        same: np.ndarray,
        other: Callable[[int], np.ndarray],
    ) -> np.ndarray:
        """Ids for one query from its ``relevant`` and ``same``-maze candidates.

        ``other(n)`` returns ``n`` (or fewer, when there are not enough) distinct ids of other
        mazes, uniformly.
        """
        n_rel = min(self.n_relevant, len(relevant), k)
        parts = [_pick(rng, relevant, n_rel)] if n_rel else []
        n_dis = min(self.n_distractors, k - n_rel)
        if n_dis:
            n_same = int((rng.random(n_dis) < self.p_same).sum()) if len(same) else 0
            n_same = min(n_same, len(same))
            picked = _pick(rng, same, n_same)
            parts.append(picked)
            others = other(n_dis - n_same)
            parts.append(others)
            if n_same + len(others) < n_dis and len(same) > n_same:  # too few other mazes
                rest = same[~np.isin(same, picked)]
                extra = min(n_dis - n_same - len(others), len(rest))
                parts.append(rng.choice(rest, size=extra, replace=False))
        ids = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
        return rng.permutation(ids) if self.shuffle else ids

    def pool_ids(
        self, rng: np.random.Generator, k: int, maze: int, placement: int, goal: int, exclude: int
    ) -> np.ndarray:
        """Memory ids for a pool query (``exclude``: the sample's own memory id)."""
        relevant, same = self._group(maze, placement, goal)
        relevant = relevant[relevant != exclude]
        same = same[same != exclude]
        other_maze = self._other_mask(maze, placement)

        def other(n: int) -> np.ndarray:
            if n == 0:
                return np.zeros(0, dtype=np.int64)
            for _ in range(4):  # uniform draws, first n distinct ones of other mazes
                cand = rng.integers(len(other_maze), size=8 * n + 16)
                cand = cand[other_maze[cand]]
                _, first = np.unique(cand, return_index=True)
                if len(first) >= n:
                    return cand[np.sort(first)[:n]]
            cand = np.flatnonzero(other_maze)
            return rng.choice(cand, size=min(n, len(cand)), replace=False)

        return self.draw(rng, k, relevant, same, other)

    def batch_ids(self, rng: np.random.Generator, k: int, saw: np.ndarray, j: int) -> np.ndarray:
        """Ids into a batch memory of one relevant episode per query (query ``j``'s is ``j``).

        Every entry is its own maze (as the first version's per-batch memory made them):
        entry ``j`` is relevant to query ``j`` when it saw the goal (``saw[j]``), else a
        same-maze distractor; the other entries are other-maze distractors.
        """
        mine = np.array([j], dtype=np.int64)
        none = mine[:0]
        others = np.delete(np.arange(len(saw), dtype=np.int64), j)

        def other(n: int) -> np.ndarray:
            return _pick(rng, others, min(n, len(others)))

        return self.draw(rng, k, mine if saw[j] else none, none if saw[j] else mine, other)

    def _other_mask(self, maze: int, placement: int) -> np.ndarray:
        """``(N,)`` True for memory episodes of another maze or placement (cached per key)."""
        if self._size != len(self.memory):
            self._size = len(self.memory)
            self._groups.clear()
            self._others.clear()
        key = (int(maze), int(placement))
        mask = self._others.get(key)
        if mask is None:
            mask = (self.memory.maze_ids != maze) | (self.memory.placements != placement)
            if len(self._others) > 256:
                self._others.clear()
            self._others[key] = mask
        return mask

    def _group(self, maze: int, placement: int, goal: int) -> tuple[np.ndarray, np.ndarray]:
        self._other_mask(maze, placement)  # drops stale groups when the memory grew
        key = (int(maze), int(placement), int(goal))
        hit = self._groups.get(key)
        if hit is None:
            relevant = np.asarray(self.memory.relevant_ids(maze, goal, placement))
            if self.other_goal:
                passed = [i for i in relevant if goal not in self.memory[int(i)].goals]
                if passed:
                    relevant = np.asarray(passed, dtype=np.int64)
            same = np.asarray(self.memory.same_maze_without(maze, goal, placement))
            hit = (relevant.astype(np.int64), same.astype(np.int64))
            self._groups[key] = hit
        return hit


class ContextMaker:
    """Turns samples into model inputs; with a memory, puts retrieved episodes first.

    The retrieval agent and the baseline differ only in ``pool_memory`` (None for the baseline).
    """

    def __init__(self, config: TrainConfig, pool_memory: Any | None) -> None:
        self.config = config
        self.fmt = config.step_format()
        self.world = config.world_config()
        self.pool_memory = pool_memory
        self.pool_retriever = None if pool_memory is None else make_retriever(config, pool_memory)
        self.oracle = (
            ArrayOracle(self.pool_retriever)
            if self.pool_retriever is not None and config.retrieval == "oracle"
            else None
        )
        self.rng = np.random.default_rng([config.seed, 3])
        self._action_slot = self.fmt.view_cells + 2
        self._cue_slot = self.fmt.view_cells + 3 if self.fmt.maze_cue else -1
        # token rows per episode: pool episodes by index, memory episodes by memory id,
        # stream episodes by the episode object (they live while the stream buffer holds them)
        self._pool_tokens: dict[int, EpisodeTokens] = {}
        self._memory_tokens: dict[int, EpisodeTokens] = {}
        self._tokens: weakref.WeakKeyDictionary[Episode, EpisodeTokens] = (
            weakref.WeakKeyDictionary()
        )
        self._cells: dict[tuple[int, int], np.ndarray] = {}

    # ------------------------------------------------------------------ token rows

    def _cue(self, maze: int) -> int:
        return int(observed_maze(maze, self.world.n_mazes))

    def _ensure(self, wanted: Sequence[tuple[Any, Any, Episode]]) -> None:
        """Tokenise the episodes of ``(cache, key, episode)`` not yet in their cache, at once."""
        missing: dict[tuple[int, Any], tuple[Any, Any, Episode]] = {}
        for cache, key, episode in wanted:
            if key not in cache:
                missing[(id(cache), key if not isinstance(key, Episode) else id(key))] = (
                    cache,
                    key,
                    episode,
                )
        if not missing:
            return
        todo = list(missing.values())
        episodes = [e for _, _, e in todo]
        made = EpisodeTokens.many(self.fmt, episodes, [self._cue(e.maze) for e in episodes])
        for (cache, key, _), tok in zip(todo, made, strict=True):
            cache[key] = tok

    def _sample_key(self, s: Sample) -> tuple[Any, Any, Episode]:
        if s.pool and s.pool_index >= 0 and s.labels is None and s.target_cell is None:
            return (self._pool_tokens, s.pool_index, s.episode)
        return (self._tokens, s.episode, s.episode)

    def _memory_key(self, memory_id: int) -> tuple[Any, Any, Episode]:
        tok = self._memory_tokens.get(memory_id)
        if tok is not None:
            return (self._memory_tokens, memory_id, tok)  # type: ignore[return-value]
        assert self.pool_memory is not None
        return (self._memory_tokens, memory_id, self.pool_memory[memory_id])

    def _memory_block(self, tok: EpisodeTokens, goal: int, batch_cue: bool) -> np.ndarray:
        c = self.config
        steps = tok.trim(goal, c.memory_steps, c.memory_trim)
        block = tok.rows[steps]
        block[:, self._action_slot] = tok.taken[steps]
        if batch_cue and self._cue_slot >= 0:
            # stream memories are relabelled to batch-only maze ids, shown as "a new maze"
            block[:, self._cue_slot] = TOKENIZER.stoi["<maze:0>"] + self.world.n_mazes
        return block

    # ------------------------------------------------------------------ batches

    def contexts(self, samples: Sequence[Sample]) -> dict[str, np.ndarray]:
        """Collated batch arrays for ``samples`` (see :func:`agents.bc.context.collate`)."""
        # which episodes each sample reads: (cache, key) of its current episode, and of its
        # retrieved ones with the goal to trim for and whether it is a stream (batch) memory
        current = [self._sample_key(s) for s in samples]
        memories: list[list[tuple[Any, Any, Episode]]] = [[] for _ in samples]
        batch_memory = [False] * len(samples)
        if self.pool_retriever is not None:
            memories, batch_memory = self._retrieve(samples)
        self._ensure([*current, *(m for ms in memories for m in ms)])
        m = self.config.max_current
        aux = self.config.aux_goal_weight > 0
        currents, targets, cells, told = [], [], [], []
        retrieved = []
        for i, s in enumerate(samples):
            t = len(s.episode)
            lo = max(0, t - m)
            cache, key, _ = current[i]
            currents.append(cache[key].rows[lo:t])
            targets.append(s.targets[lo:t])
            if aux:
                cells.append(self._goal_cells(s)[lo:t])
            if s.target_cell is not None:
                told.append((i, s.target_cell))
            retrieved.append(
                [self._memory_block(c[k], s.goal, batch_memory[i]) for c, k, _ in memories[i]]
            )
        return self._collate(retrieved, currents, targets, cells if aux else None, told)

    def _collate(
        self,
        retrieved: list[list[np.ndarray]],
        currents: list[np.ndarray],
        targets: list[np.ndarray],
        cells: list[np.ndarray] | None,
        told: list[tuple[int, tuple[int, int]]],
    ) -> dict[str, np.ndarray]:
        b = len(currents)
        mem_lengths = [[len(x) for x in blocks] for blocks in retrieved]
        n_mem = np.array([sum(x) for x in mem_lengths], dtype=np.int64)
        n_cur = np.array([len(x) for x in currents], dtype=np.int64)
        total = n_mem + n_cur
        n = int(total.max())
        rows = np.full((b, n, self.fmt.length), TOKENIZER.pad, dtype=np.int64)
        segment = np.zeros((b, n), dtype=np.int64)
        time = np.zeros((b, n), dtype=np.int64)
        tgt = np.full((b, n), -100, dtype=np.int64)
        goal_cells = None if cells is None else np.full((b, n, 2), -100, dtype=np.int64)
        for i in range(b):
            blocks = retrieved[i]
            end = int(total[i])
            rows[i, :end] = np.concatenate([*blocks, currents[i]]) if blocks else currents[i]
            start = int(n_mem[i])
            tgt[i, start:end] = targets[i]
            time[i, start:end] = np.arange(end - start)
            if goal_cells is not None and cells is not None:
                goal_cells[i, start:end] = cells[i]
            at = 0
            for j, length in enumerate(mem_lengths[i]):
                segment[i, at : at + length] = j + 1
                time[i, at : at + length] = np.arange(length)
                at += length
        pad = np.arange(n)[None, :] >= total[:, None]
        out = {"rows": rows, "segment": segment, "time": time, "targets": tgt, "pad": pad}
        if goal_cells is not None:
            out["goal_cells"] = goal_cells
        if told:
            told_cells = np.full((b, n, 2), -100, dtype=np.int64)
            for i, cell in told:
                told_cells[i, int(n_mem[i]) : int(total[i])] = cell
            out["told_cells"] = told_cells
        return out

    def _goal_cells(self, sample: Sample) -> np.ndarray:
        """``(T, 2)`` cell of the goal shown at each acting step of the sample's episode.

        ``-100`` (no loss) for a "go to this cell" sample: its letter is not in the maze.
        """
        t = len(sample.episode)
        if sample.target_cell is not None:
            return np.full((t, 2), -100, dtype=np.int64)
        table = self._cells.get(sample.maze_key)
        if table is None:
            maze = build_maze(self.world, *sample.maze_key)
            table = np.full((self.world.n_object_types, 2), -100, dtype=np.int64)
            table[maze.object_types] = maze.object_cells
            if len(self._cells) > 4096:
                self._cells.clear()
            self._cells[sample.maze_key] = table
        return table[sample.episode.goals[:t].astype(np.int64)]

    def _retrieve(
        self, samples: Sequence[Sample]
    ) -> tuple[list[list[tuple[Any, Any, Episode]]], list[bool]]:
        """Per sample: the episodes it retrieves (as cache keys) and whether from the batch."""
        if self.oracle is None:
            return self._retrieve_any(samples)
        k, rng = self.config.k, self.rng
        stream = [s for s in samples if not s.pool]
        relevant = [s.relevant for s in stream if s.relevant is not None]
        saw = np.array([bool(e.visible[:, s.goal].any()) for e, s in zip(relevant, stream)])
        out: list[list[tuple[Any, Any, Episode]]] = []
        j = 0
        for s in samples:
            if s.pool:
                ids = self.oracle.pool_ids(
                    rng, k, s.maze_key[0], s.maze_key[1], s.goal, s.pool_index
                )
                out.append([self._memory_key(int(i)) for i in ids])
            else:
                ids = self.oracle.batch_ids(rng, k, saw, j)
                out.append([(self._tokens, relevant[int(i)], relevant[int(i)]) for i in ids])
                j += 1
        return out, [not s.pool for s in samples]

    def _retrieve_any(
        self, samples: Sequence[Sample]
    ) -> tuple[list[list[tuple[Any, Any, Episode]]], list[bool]]:
        """Any retriever (``knn``): one query per sample, stream samples from a batch memory."""
        from agents.memory import EpisodicMemory

        # Stream samples retrieve from a memory of this batch's relevant episodes. A moved pool
        # maze keeps its pool id, so each (maze, placement) gets its own id in that memory:
        # two placements of one maze must never count as the same maze.
        stream = [s for s in samples if not s.pool]
        ids = {s.maze_key: BATCH_MAZE_IDS + j for j, s in enumerate(stream)}
        batch_retriever = None
        relevant = [s.relevant for s in stream if s.relevant is not None]
        if stream:
            memory = EpisodicMemory.for_world(self.world)
            memory.extend([relabel(s.relevant, ids[s.maze_key]) for s in stream])
            batch_retriever = make_retriever(self.config, memory)
        out: list[list[tuple[Any, Any, Episode]]] = []
        for s in samples:
            if s.pool:
                memory_ids = retrieve_ids(
                    self.pool_retriever, s.episode, s.goal, self.config.k, self.rng, (s.pool_index,)
                )
                out.append([self._memory_key(int(i)) for i in memory_ids])
            else:
                query = relabel(s.episode, ids[s.maze_key])
                found = retrieve_ids(batch_retriever, query, s.goal, self.config.k, self.rng)
                out.append([(self._tokens, relevant[int(i)], relevant[int(i)]) for i in found])
        return out, [not s.pool for s in samples]


def relabel(episode: Any, maze: int) -> Any:
    """``episode`` with another maze id (and placement 0, if episodes carry one)."""
    changes: dict[str, Any] = {"maze": maze}
    if hasattr(episode, "placement"):
        changes["placement"] = 0
    return dataclasses.replace(episode, **changes)


def make_retriever(
    config: TrainConfig,
    memory: Any,
    n_relevant: int | None = None,
    n_distractors: int | None = None,
) -> Any:
    """The retriever of ``config.retrieval`` over ``memory`` (counts default to the config's)."""
    from agents.memory import make_retriever as make

    options: dict[str, Any] = (
        {"relevant_goal": config.relevant_goal} if config.retrieval == "oracle" else {}
    )
    return make(
        config.retrieval,
        memory,
        n_relevant=config.n_relevant if n_relevant is None else n_relevant,
        n_distractors=config.n_distractors if n_distractors is None else n_distractors,
        **options,
    )


def retrieve(
    retriever: Any,
    episode: Any,
    goal: int,
    k: int,
    rng: np.random.Generator,
    exclude: tuple[int, ...] = (),
) -> list[Any]:
    """Query ``retriever`` with what is known at the start of ``episode``.

    The query holds the maze (for the oracle), the goal, and the first step only (objects in
    view and the view itself, for ``knn``): at test time retrieval happens at the start of the
    episode, so training queries must not see more.
    """
    ids = retrieve_ids(retriever, episode, goal, k, rng, exclude)
    return [] if retriever.memory is None else list(retriever.memory.episodes(ids))


def retrieve_ids(
    retriever: Any,
    episode: Any,
    goal: int,
    k: int,
    rng: np.random.Generator,
    exclude: tuple[int, ...] = (),
) -> np.ndarray:
    """The memory ids :func:`retrieve` returns the episodes of."""
    from agents.memory import RetrievalQuery

    query = RetrievalQuery(
        maze=int(episode.maze),
        goal=int(goal),
        seen=np.asarray(episode.visible[0]),
        history=first_step(episode),
        placement=int(getattr(episode, "placement", 0)),
        exclude=tuple(int(i) for i in exclude),
    )
    return np.asarray(retriever.retrieve_ids(query, k=k, rng=rng), dtype=np.int64)


def first_step(episode: Any) -> Any:
    """An :class:`Episode` holding only the first observation of ``episode``."""
    return dataclasses.replace(
        episode,
        views=episode.views[:1],
        goals=episode.goals[:1],
        positions=episode.positions[:1],
        visible=episode.visible[:1],
        actions=episode.actions[:0],
        success=False,
    )


def to_tensors(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Numpy batch arrays to tensors."""
    return {k: torch.from_numpy(v) for k, v in batch.items()}
