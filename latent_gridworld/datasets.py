r"""Expert demonstration datasets: generate, save, load, and report coverage (no torch).

A dataset is a columnar, ragged batch of :class:`~latent_gridworld.episode.Episode` records
(:class:`~latent_gridworld.arrays.EpisodeArrays`, with its file format, in
:mod:`latent_gridworld.arrays`): one uncompressed ``.npz`` file with a JSON header, so numpy
alone reads it (``np.load(path, allow_pickle=False)``); ``docs/datasets.md`` has the schema.
Files are written byte-for-byte deterministically: the same arguments give the same file.

:func:`export_minari` also writes a Minari dataset (Arrow backend, no JPEG) for ``minari``
tools; ``docs/datasets.md`` says why the npz stays the primary format. Episodes are stored in
cell codes, so pixel and ASCII agents render the same data with their own encoder.

Command line (``latent-gridworld generate``)::

    latent-gridworld generate --env ASCII --episodes 10000 --split train --icl-share 0.3 \\
        --seed 0 --out data/train.npz --kw size=13

Why this size: generation, the expert's episode walk, save/load, Minari export, coverage and
the ``generate`` command. The columnar storage moved to :mod:`latent_gridworld.arrays`; the
expert's walk (``expert_moves`` .. ``expert_labels``) belongs beside :mod:`latent_gridworld.expert`,
a move that waits for one expert move rule (today also in ``expert.py`` and
``agents/reference.py``), since merging them must keep every dataset byte-identical.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

from latent_gridworld.arrays import (  # noqa: F401  (re-exported: moved to latent_gridworld.arrays)
    _EPISODE_COLUMNS,
    _STEP_COLUMNS,
    EpisodeArrays,
    content_hash,
    full_header,
    read_arrays,
    write_arrays,
)
from latent_gridworld.core import world
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.constants import ACTION_DELTAS, SPLITS
from latent_gridworld.core.maze import distance_map
from latent_gridworld.encoders.ascii import codes_to_ascii
from latent_gridworld.encoders.pixels import codes_to_image
from latent_gridworld.envs.gridworld import LatentGridworldEnv
from latent_gridworld.episode import Episode, path_episode
from latent_gridworld.fileio import check_output_path
from latent_gridworld.integrity import FileFormatError
from latent_gridworld.kwargs import parse_kwargs

DATASET_FORMAT = "latent-gridworld-dataset"
DATASET_VERSION = 1
ENV_NAMES = {"ascii": "ASCII", "pixel": "Pixel"}

# ------------------------------------------------------------------------------------------
# datasets


@dataclass(frozen=True)
class DatasetInfo:
    """What produced a dataset.

    Attributes:
        env: ``"ASCII"`` or ``"Pixel"`` (observation encoding the data was made for).
        env_kwargs: Keyword arguments of the env (every :class:`WorldConfig` field that was set).
        split: Split the tasks were drawn from.
        icl_share: Share of ICL episodes requested (train split only).
        seed: Generation seed.
        stream: Episodes per fresh stream maze (0: tasks sampled from ``split``).
        first_maze: Offset into the maze stream.
        content_sha256: Hash of the stored content (equal arguments give equal hashes).
    """

    env: str
    env_kwargs: dict[str, Any]
    split: str
    icl_share: float
    seed: int
    stream: int = 0
    first_maze: int = 0
    content_sha256: str = ""

    @property
    def config(self) -> WorldConfig:
        """The world configuration of the episodes."""
        return _world_config(self.env_kwargs, self.split, self.icl_share)


class Dataset(EpisodeArrays):
    """An :class:`EpisodeArrays` with the :class:`DatasetInfo` that produced it."""

    def __init__(self, columns: Mapping[str, np.ndarray], info: DatasetInfo) -> None:
        super().__init__(columns)
        self.info = info

    @property
    def config(self) -> WorldConfig:
        """The world configuration of the episodes."""
        return self.info.config


def _world_config(env_kwargs: Mapping[str, Any], split: str, icl_share: float) -> WorldConfig:
    world_fields = set(WorldConfig.__dataclass_fields__)
    kwargs = {k: v for k, v in env_kwargs.items() if k in world_fields}
    kwargs.update(split=split, icl_share=icl_share)
    return WorldConfig(**kwargs)


_ENV_ONLY_KWARGS = ("tile_size",)  # env kwargs that do not change the world


def _check_kwargs(env: str, env_kwargs: Mapping[str, Any]) -> None:
    allowed = set(WorldConfig.__dataclass_fields__) | set(_ENV_ONLY_KWARGS)
    allowed -= {"split", "icl_share"}
    unknown = set(env_kwargs) - allowed
    if unknown:
        raise ValueError(
            f"unknown env kwarg(s) {sorted(unknown)}; valid: {', '.join(sorted(allowed))} "
            "(split and icl_share have their own options)"
        )
    if env not in ENV_NAMES.values():
        raise ValueError(f"unknown env {env!r}; valid: {', '.join(ENV_NAMES.values())}")


def normalize_env(env: str) -> str:
    """``"ascii"``, ``"ASCII"``, ``"LatentGridworld/ASCII-v0"`` -> ``"ASCII"`` (same for Pixel)."""
    name = env.rsplit("/", 1)[-1].split("-v")[0].lower()
    if name not in ENV_NAMES:
        raise ValueError(
            f"unknown env {env!r}; valid: ASCII, Pixel (or LatentGridworld/ASCII-v0, "
            "LatentGridworld/Pixel-v0)"
        )
    return ENV_NAMES[name]


def expert_moves(distances: np.ndarray) -> np.ndarray:
    """``(K, H, W)`` the expert's move towards each of ``K`` targets, from their distance maps.

    The expert's rule: the first of north, east, south, west that gets closer (-1 where none
    does: walls, the target's own cell). ``distances`` is ``(K, H, W)``, -1 on walls.
    """
    dist = distances.astype(np.int32)
    _, h, w = dist.shape
    table = np.full(dist.shape, -1, dtype=np.int64)
    for action in reversed(range(len(ACTION_DELTAS))):  # the lowest valid action wins
        dr, dc = (int(x) for x in ACTION_DELTAS[action])
        ahead = np.full_like(dist, -1)
        rows, cols = slice(max(0, -dr), h - max(0, dr)), slice(max(0, -dc), w - max(0, dc))
        src_rows = slice(max(0, dr), h - max(0, -dr))
        src_cols = slice(max(0, dc), w - max(0, -dc))
        ahead[:, rows, cols] = dist[:, src_rows, src_cols]
        table = np.where((ahead >= 0) & (ahead < dist), action, table)
    return table


@functools.lru_cache(maxsize=512)
def expert_table(maze: world.Maze) -> list[list[list[int]]]:
    """``table[k][row][col]``: the expert's action towards object ``k`` from each cell.

    The same rule as :func:`~latent_gridworld.expert.expert_action_for_state` (the first of
    north, east, south, west that gets closer), computed once per maze with array shifts, so
    generating a dataset does one list lookup per step. -1 where no move gets closer (walls,
    the object's own cell).
    """
    table = expert_moves(maze.distances)
    return cast(list[list[list[int]]], table.tolist())


def expert_episode(
    config: WorldConfig, task: world.Task, rng: np.random.Generator, noise: float = 0.0
) -> Episode:
    """Run the shortest-path expert on ``task``; ``rng`` draws an ICL second goal.

    Equivalent to ``record_episode(env, expert)`` with the task pinned, without the cost of
    encoding observations (views are gathered from the maze's lookup table at the end).

    With ``noise > 0`` each step is, with that probability, a *perturbation*: a move to an open
    neighbouring cell other than the expert's (drawn from ``rng``). The episode then shows
    states off the shortest path and how the expert gets back from them; ``actions`` holds
    what was taken, and :func:`expert_labels` gives the expert's action at every step (the
    DART recipe for compounding errors in behavioural cloning: Laskey et al., 2017; ours).
    With ``noise == 0`` nothing extra is drawn from ``rng``.
    """
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be in [0, 1), got {noise!r}")
    state = world.start_episode(config, task)
    maze = state.maze
    table = expert_table(maze)
    if noise == 0.0 and not task.icl:
        return _expert_walk(config, task, maze, table[maze.object_index(task.goal)])
    goal = state.goal
    policy = table[maze.object_index(goal)]
    rows, cols, goals, actions = [state.position[0]], [state.position[1]], [state.goal], []
    while not state.done:
        r, c = state.position
        action = policy[r][c]
        if noise > 0.0 and rng.random() < noise:
            action = _perturbation(maze, r, c, action, rng)
        actions.append(action)
        world.step(config, state, action, rng)
        rows.append(state.position[0])
        cols.append(state.position[1])
        goals.append(state.goal)
        if state.goal != goal:  # an ICL second goal was announced
            goal = state.goal
            policy = table[maze.object_index(goal)]
    return path_episode(
        maze,
        config.split,
        rows,
        cols,
        goals,
        actions,
        success=state.terminated,
        optimal_steps=state.optimal_steps,
    )


def _expert_walk(
    config: WorldConfig, task: world.Task, maze: world.Maze, policy: list[list[int]]
) -> Episode:
    """:func:`expert_episode` without ICL or noise: a walk down the move table, no env steps.

    The same episode :func:`~latent_gridworld.core.world.step` would make (reaching the goal
    terminates, ``episode_limit`` truncates); ~10x faster, which matters for the training
    stream (16 expert episodes per step).
    """
    goal = maze.object_index(task.goal)
    goal_cell = (int(maze.object_cells[goal, 0]), int(maze.object_cells[goal, 1]))
    r, c = int(task.start[0]), int(task.start[1])
    rows, cols = [r], [c]
    actions: list[int] = []
    deltas = [(int(dr), int(dc)) for dr, dc in ACTION_DELTAS]
    limit = config.episode_limit
    while (r, c) != goal_cell and len(actions) < limit:
        action = policy[r][c]
        dr, dc = deltas[action]
        r, c = r + dr, c + dc
        rows.append(r)
        cols.append(c)
        actions.append(action)
    return path_episode(
        maze,
        config.split,
        rows,
        cols,
        task.goal,
        actions,
        success=(r, c) == goal_cell,
        optimal_steps=int(maze.distances[goal, task.start[0], task.start[1]]),
    )


def expert_cell_episode(
    config: WorldConfig,
    maze: world.Maze,
    start: tuple[int, int],
    cell: tuple[int, int],
    letter: int,
    rng: np.random.Generator,
    noise: float = 0.0,
) -> tuple[Episode, np.ndarray]:
    """The expert walking from ``start`` to an arbitrary floor ``cell``, and its labels.

    Training data for "go to the cell you were told" (ours): the views are the maze's, the
    goal shown at every step is ``letter`` (the caller picks one the cell does not hold), and
    the moves follow the expert's rule (:func:`expert_moves`), perturbed at rate ``noise`` as
    in :func:`expert_episode`. Returns the episode and the expert's action at each of its
    steps.
    """
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be in [0, 1), got {noise!r}")
    if maze.walls[cell] or maze.walls[start]:
        raise ValueError(f"start {start} and cell {cell} must be floor cells")
    dist = distance_map(maze.walls, cell)
    policy = expert_moves(dist[None])[0]
    r, c = start
    rows, cols = [r], [c]
    actions: list[int] = []
    labels: list[int] = []
    while (r, c) != tuple(cell) and len(actions) < config.episode_limit:
        expert = int(policy[r, c])
        action = expert
        if noise > 0.0 and rng.random() < noise:
            action = _perturbation(maze, r, c, expert, rng)
        dr, dc = ACTION_DELTAS[action]
        r, c = r + int(dr), c + int(dc)
        rows.append(r)
        cols.append(c)
        actions.append(action)
        labels.append(expert)
    episode = path_episode(
        maze,
        config.split,
        rows,
        cols,
        letter,
        actions,
        success=(r, c) == tuple(cell),
        optimal_steps=int(dist[start]),
    )
    return episode, np.asarray(labels, dtype=np.int64)


def _perturbation(maze: world.Maze, r: int, c: int, expert: int, rng: np.random.Generator) -> int:
    """A move from ``(r, c)`` to an open neighbour other than the expert's (or the expert's)."""
    moves = [
        a
        for a, (dr, dc) in enumerate(ACTION_DELTAS)
        if a != expert and not maze.walls[r + int(dr), c + int(dc)]
    ]
    return int(moves[int(rng.integers(len(moves)))]) if moves else expert


def expert_labels(config: WorldConfig, episode: Episode) -> np.ndarray:
    """``(T,)`` the expert's action at each acting step of ``episode`` (for its goal then).

    Equal to ``episode.actions`` for an expert episode; for a perturbed one (see
    :func:`expert_episode`) these are the labels to imitate.
    """
    maze = world.build_maze(config, episode.maze, int(getattr(episode, "placement", 0)))
    table = np.asarray(expert_table(maze))
    t = len(episode)
    index_of = np.full(config.n_object_types, -1, dtype=np.int64)
    index_of[maze.object_types] = np.arange(len(maze.object_types))
    goals = index_of[episode.goals[:t].astype(np.int64)]
    rows, cols = episode.positions[:t, 0], episode.positions[:t, 1]
    return table[goals, rows, cols].astype(np.int64)


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
        env: ``"ASCII"`` or ``"Pixel"`` (recorded; episodes are in cell codes either way).
        episodes: Number of episodes (>= 1).
        split: ``train``, ``explicit``, ``latent`` or ``new_maze``.
        icl_share: Share of within-episode ICL episodes (only ``train`` draws them).
        seed: Seed.
        progress: Show a tqdm progress bar.
        stream: Episodes per fresh stream maze (0: sample tasks of ``split``).
        first_maze: Offset into the maze stream (keeps train and test streams apart).
        **env_kwargs: Env arguments (any :class:`WorldConfig` field, e.g. ``size=13``).

    >>> ds = generate_dataset(episodes=3, seed=1)
    >>> len(ds), bool(ds.success.all()), ds.info.split
    (3, True, 'train')
    """
    env = normalize_env(env)
    _check_kwargs(env, env_kwargs)
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
        dict(sorted(env_kwargs.items())),
        split,
        float(icl_share),
        int(seed),
        stream=int(stream),
        first_maze=int(first_maze),
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


def _info_header(info: DatasetInfo) -> dict[str, Any]:
    return {
        "format": DATASET_FORMAT,
        "version": DATASET_VERSION,
        "env": info.env,
        "env_kwargs": info.env_kwargs,
        "split": info.split,
        "icl_share": info.icl_share,
        "seed": info.seed,
        "stream": info.stream,
        "first_maze": info.first_maze,
        "splits": list(SPLITS),
    }


def save_dataset(dataset: Dataset, path: str | os.PathLike[str], *, overwrite: bool = False) -> str:
    """Write ``dataset`` to ``path`` (``.npz``); return the file's content hash.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
    """
    return write_arrays(path, _info_header(dataset.info), dataset.columns(), overwrite=overwrite)


def load_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Read a dataset written by :func:`save_dataset` / ``latent-gridworld generate``.

    The result is a sequence of :class:`Episode` (views into the loaded columns).

    Raises:
        FileFormatError: the file is truncated, corrupted, or of another format or version.
    """
    header, arrays = read_arrays(path, DATASET_FORMAT, (DATASET_VERSION,))
    if header.get("splits") != list(SPLITS):
        raise FileFormatError(f"{path} uses splits {header.get('splits')}, expected {SPLITS}")
    info = DatasetInfo(
        env=header["env"],
        env_kwargs=dict(header["env_kwargs"]),
        split=header["split"],
        icl_share=float(header["icl_share"]),
        seed=int(header["seed"]),
        stream=int(header["stream"]),
        first_maze=int(header["first_maze"]),
        content_sha256=header["content_sha256"],
    )
    try:
        return Dataset(arrays, info)
    except ValueError as err:
        raise FileFormatError(f"{path}: inconsistent columns: {err}") from err


# ------------------------------------------------------------------------------------------
# Minari export


def export_minari(
    dataset: Dataset,
    dataset_id: str,
    root: str | os.PathLike[str] | None = None,
    tile_size: int = 8,
) -> Any:
    """Write ``dataset`` as a Minari dataset (Arrow backend, no JPEG) for ``minari`` tools.

    Observations are what the dataset's env returns (ASCII: ``{"view", "goal"}``; Pixel:
    ``{"image", "goal"}``, rendered with ``tile_size``); rewards are 1 on reaching each goal.
    Step infos carry ``visible`` (objects inside the view) and ``position``; episode
    ``options`` carry ``maze``, ``goal``, ``start``, ``icl`` (the env's reset options) plus
    ``split`` and ``placement``. The Arrow backend is used because minari 0.5's HDF5 backend
    JPEG-encodes small uint8 grids (see docs/datasets.md); ``tests/test_datasets.py`` compares
    every array after a round trip.

    Args:
        dataset: The dataset.
        dataset_id: Minari id, e.g. ``"latent-gridworld/ascii-train-v0"``.
        root: Minari's datasets folder (default: ``$MINARI_DATASETS_PATH`` or ``~/.minari``).
        tile_size: Pixel tile size (Pixel datasets only).

    Returns:
        The ``minari.MinariDataset``.
    """
    try:
        import minari
        from minari.data_collector import EpisodeBuffer
    except ImportError as err:  # pragma: no cover - minari is in the agents extra
        raise ImportError("export_minari needs minari: pip install 'minari[arrow]'") from err
    info = dataset.info
    env_kwargs = {k: v for k, v in info.env_kwargs.items() if k != "tile_size"}
    obs_mode: Literal["pixel", "ascii"] = "pixel" if info.env == "Pixel" else "ascii"
    env_kwargs.update(split=info.split, icl_share=info.icl_share)
    if obs_mode == "pixel":
        env_kwargs["tile_size"] = tile_size
    env = LatentGridworldEnv(obs_mode=obs_mode, **env_kwargs)
    import dataclasses

    import gymnasium as gym

    base = gym.spec(f"LatentGridworld/{info.env}-v0")
    spec = dataclasses.replace(base, kwargs={**base.kwargs, **env_kwargs})

    def buffers() -> Iterator[Any]:
        for i, e in enumerate(dataset):
            if obs_mode == "pixel":
                obs = {"image": np.stack([codes_to_image(v, tile_size) for v in e.views])}
            else:
                obs = {"view": codes_to_ascii(e.views.reshape(len(e.views), -1))}
            obs["goal"] = e.goals.astype(np.int64)
            reached = np.diff(e.goals.astype(np.int64)) != 0  # an ICL goal switch
            rewards = reached.astype(np.float64)
            if e.success:
                rewards[-1] += 1.0
            terminations = np.zeros(len(e), dtype=bool)
            terminations[-1] = e.success
            yield EpisodeBuffer(
                id=i,
                options={
                    "maze": e.maze,
                    "goal": int(e.goals[0]),
                    "start": list(e.start),
                    "icl": bool(dataset.icl[i]),
                    "split": e.split,
                    "placement": int(dataset.placement[i]),
                },
                observations=obs,
                actions=e.actions.astype(np.int64),
                rewards=rewards,
                terminations=terminations,
                truncations=~terminations & (np.arange(len(e)) == len(e) - 1),
                infos={"visible": e.visible, "position": e.positions},
            )

    previous = os.environ.get("MINARI_DATASETS_PATH")
    if root is not None:
        os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        with warnings.catch_warnings():
            # minari recommends author, e-mail and code permalink; a generated dataset has none
            warnings.filterwarnings("ignore", message=".*is set to None", category=UserWarning)
            return minari.create_dataset_from_buffers(
                dataset_id,
                list(buffers()),
                env=spec,
                eval_env=spec,
                observation_space=env.observation_space,
                action_space=env.action_space,
                algorithm_name="shortest-path expert",
                description=(
                    f"latent-gridworld expert demonstrations ({info.env}, split {info.split}, "
                    f"seed {info.seed}, content sha256 {info.content_sha256})"
                ),
                data_format="arrow",
                jpeg_encoding=False,
            )
    finally:
        if root is not None:
            if previous is None:
                os.environ.pop("MINARI_DATASETS_PATH", None)
            else:
                os.environ["MINARI_DATASETS_PATH"] = previous


# ------------------------------------------------------------------------------------------
# coverage


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


# ------------------------------------------------------------------------------------------
# command line


def build_parser() -> argparse.ArgumentParser:
    """The ``latent-gridworld generate`` argument parser."""
    p = argparse.ArgumentParser(
        prog="latent-gridworld generate",
        description="Write an expert demonstration dataset (.npz; schema in docs/datasets.md).",
    )
    p.add_argument("--env", default="ASCII", help="ASCII or Pixel (default ASCII)")
    p.add_argument("--episodes", type=int, default=1000, help="number of episodes")
    p.add_argument("--split", default="train", choices=SPLITS, help="task split")
    p.add_argument(
        "--icl-share",
        type=float,
        default=0.0,
        help="share of within-episode ICL episodes (train split)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed (same arguments -> same file)")
    p.add_argument("--out", required=True, help="output file (.npz); its folder is created")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument(
        "--kw",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="env keyword argument, e.g. --kw size=13 (repeatable)",
    )
    p.add_argument(
        "--stream",
        type=int,
        default=0,
        metavar="K",
        help="draw from the unlimited stream of fresh mazes instead, K episodes per maze",
    )
    p.add_argument("--first-maze", type=int, default=0, help="offset into the maze stream")
    p.add_argument(
        "--minari-id",
        default=None,
        help="also export to Minari (Arrow backend) under this dataset id",
    )
    p.add_argument("--minari-root", default=None, help="Minari datasets folder for --minari-id")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``latent-gridworld generate``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:  # before the work: a bad --out must not cost the whole generation
        check_output_path(args.out, overwrite=args.force, hint="add --force")
    except OSError as err:
        print(f"error: --out: {err}", file=sys.stderr)
        return 2
    try:
        env_kwargs = parse_kwargs(args.kw)
        t0 = time.perf_counter()
        dataset = generate_dataset(
            env=args.env,
            episodes=args.episodes,
            split=args.split,
            icl_share=args.icl_share,
            seed=args.seed,
            progress=not args.no_progress,
            stream=args.stream,
            first_maze=args.first_maze,
            **env_kwargs,
        )
        elapsed = time.perf_counter() - t0
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        digest = save_dataset(dataset, args.out, overwrite=args.force)
    except FileExistsError:  # created by someone else while we generated
        print(
            f"error: --out: {args.out} already exists; add --force to replace it", file=sys.stderr
        )
        return 2
    except OSError as err:  # e.g. the disk filled up
        print(f"error: could not write {args.out}: {err}", file=sys.stderr)
        return 1
    if args.minari_id:
        try:
            export_minari(dataset, args.minari_id, root=args.minari_root)
        except (ValueError, ImportError) as err:
            print(f"error: Minari export failed: {err}", file=sys.stderr)
            return 2
        print(f"exported to Minari as {args.minari_id}")
    report = coverage(dataset, dataset.config)
    size = os.path.getsize(args.out)
    print(
        f"wrote {args.out}: {len(dataset)} episodes, {report['steps']} steps, "
        f"{size / 1e6:.2f} MB, {len(dataset) / elapsed:.0f} episodes/s"
    )
    print(f"content sha256 {digest}")
    print(f"ICL episodes {report['icl_share']:.1%}, success {report['success_rate']:.1%}")
    print(
        f"latent (maze, object) pairs seen: {report['latent_pairs_seen']}/"
        f"{report['latent_pairs']} ({report['latent_coverage']:.1%}); all pool pairs "
        f"{report['pairs_seen']}/{report['pairs']} ({report['coverage']:.1%})"
    )
    return 0
