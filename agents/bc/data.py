"""Training samples: expert episodes from the pool dataset and from an unlimited maze stream.

Why a stream (docs/prototype.md): in the fixed pool mazes a sequence model can solve every training
episode from memorised layouts, and then learns to ignore retrieved episodes. Mixed into every
batch are therefore episodes in mazes the model can know nothing about except through the
retrieved context:

* *fresh* mazes (ids from ``n_mazes + n_new_mazes`` upward, generated on demand, never reused
  across seeds), and
* *moved* pool mazes: a pool maze's walls and object types with its objects moved
  (``placement > 0``), so a memorised layout points to the wrong cell.

For a stream episode the memory holds one *relevant* episode in the same maze and placement
(the expert going to another object, passing where the goal is visible) and the other stream
episodes of the batch (distractors). Pool episodes retrieve from the pool memory (the
training dataset). Both go through :class:`agents.memory.EpisodicMemory` and the same
retriever kind the agent uses at test time.

The baseline draws the very same current episodes (same generator, same order); it just never
builds or reads the memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from latent_gridworld.core import world
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.datasets import expert_cell_episode, expert_episode, expert_labels
from latent_gridworld.episode import Episode

# maze ids of a seed's fresh stream start here (x seed), so two seeds never share a fresh maze
STREAM_ID_STRIDE = 10_000_000


@dataclass(frozen=True)
class StreamConfig:
    """How training batches are mixed.

    Attributes:
        stream_share: Share of each batch drawn from the stream (fresh and moved mazes).
        moved_share: Share of stream samples that are moved pool mazes (the rest are fresh).
        new_mazes_per_step: Stream mazes generated per training step (each ~5 ms plus its
            episodes).
        buffer_size: Stream mazes kept for sampling (older ones are dropped).
        episodes_per_maze: Expert episodes made per stream maze.
        moved_latent_goals: In moved pool mazes, let the maze's latent object types be goals
            too (ours, not the paper's). The objects are moved, so the latent object's test
            cell is never a training goal cell; what this teaches is that in a *known* maze
            the goal's location can only come from the retrieved episode, the skill a latent
            test needs. Measured harmful (docs/results.md section 10: it taught the baseline to
            search for latent types); off: moved mazes use the explicit types only.
        noise_share: Share of current episodes (pool and stream alike) replaced by a
            perturbed expert rollout of the same task (ours: DART-style recovery data, see
            :func:`latent_gridworld.datasets.expert_episode`). Such a sample is labelled with
            the expert's action at every step, so the model sees how to get back on course
            after a wrong turn. Retrieved (memory) episodes stay the expert's own.
        noise: Per-step probability of a perturbation in those rollouts.
        cell_share: Share of pool samples replaced by a "go to this cell" episode in the same
            pool maze (ours): the expert walks to a random floor cell that holds no object,
            under the letter of an object type the maze does not hold. The policy is told the
            cell (the target input of ``navigator``/``goal_conditioned``) and must walk there
            in a maze it knows: the skill a latent task asks for once the retrieved episode has
            said where the goal is. No latent object is ever a goal, and the goal head's loss
            is masked on these samples (nothing to locate). Perturbed at ``noise_share`` too.
    """

    stream_share: float = 0.5
    moved_share: float = 0.5
    new_mazes_per_step: int = 2
    buffer_size: int = 512
    episodes_per_maze: int = 8
    moved_latent_goals: bool = False
    noise_share: float = 0.0
    noise: float = 0.2
    cell_share: float = 0.0


@dataclass
class Sample:
    """One training example.

    Attributes:
        episode: The current (expert) episode.
        goal: The goal the retrieved context should inform (the episode's final goal).
        maze_key: ``(maze id, placement)`` of the episode.
        pool: True for a pool-dataset episode, False for a stream one.
        relevant: For stream samples, the relevant memory episode (None for the baseline).
        pool_index: Index of a pool episode in the pool dataset (-1 for stream samples); the
            retrieval excludes it, so an episode never retrieves itself.
        labels: ``(T,)`` actions to imitate, for a perturbed episode (None: its own actions).
        target_cell: For a "go to this cell" sample, the cell (the policy is told it).
    """

    episode: Episode
    goal: int
    maze_key: tuple[int, int]
    pool: bool
    relevant: Episode | None = None
    pool_index: int = -1
    labels: np.ndarray | None = None
    target_cell: tuple[int, int] | None = None

    @property
    def targets(self) -> np.ndarray:
        """The action to imitate at each acting step."""
        return self.episode.actions.astype(np.int64) if self.labels is None else self.labels


class SampleStream:
    """Draws training samples; deterministic given ``seed``.

    Each stream maze gets ``episodes_per_maze`` expert episodes when it enters the buffer
    (random goals and starts); a stream sample takes one of them as its current episode and,
    as its relevant memory, another of them in which the goal was seen (or, failing that, one
    that went to the goal from elsewhere). The episodes are made whether or not a memory is
    used, so the baseline's and the retrieval agent's data are identical.

    Args:
        config: World configuration (split ``train``).
        pool: The pool training episodes (a dataset).
        stream: Mixing knobs.
        seed: Seed of the task draws.
    """

    def __init__(
        self,
        config: WorldConfig,
        pool: Sequence[Episode],
        stream: StreamConfig,
        seed: int,
    ) -> None:
        if len(pool) == 0:
            raise ValueError("the pool dataset is empty")
        self.config = config.replace(split="train", icl_share=0.0)
        self.pool = pool
        self.stream = stream
        self.rng = np.random.default_rng([seed, 0])
        self.episode_rng = np.random.default_rng([seed, 2])
        self.buffer: deque[tuple[tuple[int, int], list[Episode]]] = deque(maxlen=stream.buffer_size)
        self._next_fresh = config.n_mazes + config.n_new_mazes + seed * STREAM_ID_STRIDE
        self._next_placement = 1 + seed * STREAM_ID_STRIDE
        self.mazes_generated = 0

    def _grow(self, n: int) -> None:
        for _ in range(n):
            if self.rng.random() < self.stream.moved_share:
                key = (int(self.rng.integers(self.config.n_mazes)), self._next_placement)
                self._next_placement += 1
            else:
                key = (self._next_fresh, 0)
                self._next_fresh += 1
            maze = world.build_maze(self.config, *key)
            if key[1] > 0 and self.stream.moved_latent_goals:
                goals = maze.object_types
            else:
                goals = world.goal_candidates(self.config, maze, "train")
            episodes = [
                self._expert(maze, int(self.rng.choice(goals)))
                for _ in range(self.stream.episodes_per_maze)
            ]
            self.buffer.append((key, episodes))
            self.mazes_generated += 1

    def batch(self, size: int) -> list[Sample]:
        """``size`` samples: pool episodes, then stream episodes (distinct mazes)."""
        n_stream = int(round(size * self.stream.stream_share))
        if n_stream:
            if len(self.buffer) < n_stream:
                self._grow(n_stream - len(self.buffer))
            self._grow(self.stream.new_mazes_per_step)
        samples = [self._pool_sample() for _ in range(size - n_stream)]
        picks: list[int] = []
        if n_stream:
            picks = self.rng.choice(len(self.buffer), size=n_stream, replace=False).tolist()
        samples += [self._stream_sample(*self.buffer[int(i)]) for i in picks]
        return samples

    def _pool_sample(self) -> Sample:
        i = int(self.rng.integers(len(self.pool)))
        ep = self.pool[i]
        placement = int(getattr(ep, "placement", 0))
        sample = Sample(ep, int(ep.goals[-1]), (ep.maze, placement), pool=True, pool_index=i)
        if self.stream.cell_share > 0.0 and self.rng.random() < self.stream.cell_share:
            return self._cell_sample(sample)
        return self._maybe_perturbed(sample)

    def _cell_sample(self, sample: Sample) -> Sample:
        """A "go to this cell" episode in ``sample``'s maze, from a random start cell."""
        maze = world.build_maze(self.config, *sample.maze_key)
        free = ~maze.walls
        free[maze.object_cells[:, 0], maze.object_cells[:, 1]] = False
        cells = np.argwhere(free)
        cell = cells[int(self.rng.integers(len(cells)))]
        starts = [s for s in maze.start_cells if tuple(s) != tuple(cell)]
        start = starts[int(self.rng.integers(len(starts)))]
        absent = np.setdiff1d(np.arange(self.config.n_object_types), maze.object_types)
        letter = int(absent[int(self.rng.integers(len(absent)))])
        noisy = self.stream.noise_share > 0.0 and self.rng.random() < self.stream.noise_share
        episode, labels = expert_cell_episode(
            self.config,
            maze,
            (int(start[0]), int(start[1])),
            (int(cell[0]), int(cell[1])),
            letter,
            self.episode_rng,
            self.stream.noise if noisy else 0.0,
        )
        return replace(
            sample,
            episode=episode,
            goal=letter,
            labels=labels,
            target_cell=(int(cell[0]), int(cell[1])),
        )

    def _maybe_perturbed(self, sample: Sample) -> Sample:
        """``sample`` or, at ``noise_share``, a perturbed rollout of its (first-goal) task."""
        if self.stream.noise_share <= 0.0 or self.rng.random() >= self.stream.noise_share:
            return sample
        ep = sample.episode
        goal = int(ep.goals[0])  # an ICL episode's second goal came from its own path
        start = (int(ep.start[0]), int(ep.start[1]))
        task = world.Task(ep.maze, goal, start, placement=sample.maze_key[1])
        noisy = expert_episode(self.config, task, self.episode_rng, self.stream.noise)
        labels = expert_labels(self.config, noisy)
        return replace(sample, episode=noisy, goal=goal, labels=labels)

    def _stream_sample(self, key: tuple[int, int], episodes: list[Episode]) -> Sample:
        j = int(self.rng.integers(len(episodes)))
        ep = episodes[j]
        goal = int(ep.goals[-1])
        others = [e for i, e in enumerate(episodes) if i != j]
        saw = [e for e in others if int(e.goals[-1]) != goal and e.visible[:, goal].any()]
        candidates = saw or others
        relevant = candidates[int(self.rng.integers(len(candidates)))]
        return self._maybe_perturbed(Sample(ep, goal, key, pool=False, relevant=relevant))

    def _expert(self, maze: world.Maze, goal: int) -> Episode:
        starts = maze.start_cells
        r, c = starts[int(self.rng.integers(len(starts)))]
        task = world.Task(maze.maze_id, goal, (int(r), int(c)), placement=maze.placement)
        return expert_episode(self.config, task, self.episode_rng)
