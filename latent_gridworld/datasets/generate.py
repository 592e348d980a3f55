"""Generating expert datasets (:func:`generate_dataset`) and their coverage report.

The expert's walks are :mod:`latent_gridworld.expert`'s; this module draws the tasks (a split,
or the stream of fresh mazes), seeds every episode from ``(seed, i)`` and stamps the result
with its :class:`~latent_gridworld.datasets.files.DatasetInfo` and content hash.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from latent_gridworld.arrays import EpisodeArrays, full_header
from latent_gridworld.core import world
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.datasets.files import (
    Dataset,
    DatasetInfo,
    _info_header,
    _world_config,
    resolve_env,
)
from latent_gridworld.episode import Episode
from latent_gridworld.expert import expert_episode


def generate_dataset(
    env: str = "ASCII",
    episodes: int = 1000,
    split: str = "train",
    icl_share: float = 0.0,
    seed: int = 0,
    progress: bool = False,
    stream: int = 0,
    first_maze: int = 0,
    **env_kwargs: Any,
) -> Dataset:
    """Generate ``episodes`` expert episodes of ``split``, reproducibly from ``seed``.

    Episode ``i`` uses its own generator ``np.random.default_rng([seed, i])`` for the task and
    any ICL second goal, so the dataset is a pure function of the arguments.

    With ``stream > 0`` the episodes come instead from the unlimited stream of fresh mazes
    (ids from ``n_mazes + n_new_mazes + first_maze`` on, ``stream`` episodes per maze, any
    object a goal, ICL episodes at ``icl_share``); they are recorded with split ``new_maze``
    (outside the pool). The prototype this package started from found such a stream necessary
    for retrieval training (docs/prototype.md).

    Args:
        env: A registered id (``"LatentGridworld/ASCII-v1"``: its registered kwargs are the
            world) or ``"ASCII"`` / ``"Pixel"`` (the v0 world). Recorded with the encoding;
            episodes are in cell codes either way.
        episodes: Number of episodes (>= 1).
        split: ``train``, ``explicit``, ``latent`` or ``new_maze``.
        icl_share: Share of within-episode ICL episodes (only ``train`` draws them).
        seed: Seed.
        progress: Show a tqdm progress bar.
        stream: Episodes per fresh stream maze (0: sample tasks of ``split``).
        first_maze: Offset into the maze stream (keeps train and test streams apart).
        **env_kwargs: Env arguments over the id's (any :class:`WorldConfig` field, e.g.
            ``size=13``).

    >>> ds = generate_dataset(episodes=3, seed=1)
    >>> len(ds), bool(ds.success.all()), ds.info.split
    (3, True, 'train')
    """
    env_id, env, env_kwargs = resolve_env(env, env_kwargs)
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    for name, value in (("stream", stream), ("first_maze", first_maze)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if stream:
        split = "new_maze"
    config = _world_config(env_kwargs, split, icl_share)  # validates split and icl_share
    out: list[Episode] = []
    from tqdm.auto import tqdm

    base = config.n_mazes + config.n_new_mazes + int(first_maze)
    desc = f"generate {'stream' if stream else split}"
    for i in tqdm(range(episodes), desc=desc, unit="ep", disable=not progress, mininterval=0.5):
        rng = np.random.default_rng([int(seed), i])
        if stream:
            task = _stream_task(config, base + i // int(stream), rng)
        else:
            task = world.sample_task(config, rng, split)
        out.append(expert_episode(config, task, rng))
    info = DatasetInfo(
        env,
        env_kwargs,
        split,
        float(icl_share),
        int(seed),
        stream=int(stream),
        first_maze=int(first_maze),
        env_id=env_id,
    )
    arrays = EpisodeArrays.from_episodes(out)
    digest = full_header(_info_header(info), arrays.columns())["content_sha256"]
    return Dataset(arrays.columns(), DatasetInfo(**{**info.__dict__, "content_sha256": digest}))


def _stream_task(config: WorldConfig, maze_id: int, rng: np.random.Generator) -> world.Task:
    maze = world.build_maze(config, maze_id)
    goal = int(rng.choice(maze.object_types))
    r, c = maze.start_cells[int(rng.integers(len(maze.start_cells)))]
    icl = config.icl_share > 0 and bool(rng.random() < config.icl_share)
    return world.Task(maze_id, goal, (int(r), int(c)), icl)


def coverage(episodes: EpisodeArrays, config: WorldConfig) -> dict[str, Any]:
    """How much of the pool's latent information the episodes contain.

    Returns:
        A dict with ``latent_pairs`` (number of latent (maze, object) pairs in the pool),
        ``latent_pairs_seen`` and ``latent_coverage`` (share of them seen in some episode of that
        maze), the same for all pool (maze, object) pairs (``pairs``, ``pairs_seen``,
        ``coverage``), and ``episodes``, ``steps``, ``icl_share``, ``success_rate``.
    """
    seen = episodes.seen
    in_pool = episodes.maze < config.n_mazes
    seen_pairs = np.zeros((config.n_mazes, config.n_object_types), dtype=bool)
    if in_pool.any():
        np.logical_or.at(seen_pairs, episodes.maze[in_pool], seen[in_pool])
    latent_total = latent_seen = all_total = all_seen = 0
    for m in range(config.n_mazes):
        maze = world.build_maze(config, m)
        latent_total += len(maze.latent_types)
        latent_seen += int(seen_pairs[m, maze.latent_types].sum())
        all_total += len(maze.object_types)
        all_seen += int(seen_pairs[m, maze.object_types].sum())
    n = len(episodes)
    return {
        "episodes": n,
        "steps": int(episodes.lengths.sum()),
        "icl_share": float(episodes.icl.mean()) if n else 0.0,
        "success_rate": float(episodes.success.mean()) if n else 0.0,
        "latent_pairs": latent_total,
        "latent_pairs_seen": latent_seen,
        "latent_coverage": latent_seen / latent_total if latent_total else float("nan"),
        "pairs": all_total,
        "pairs_seen": all_seen,
        "coverage": all_seen / all_total if all_total else float("nan"),
    }
