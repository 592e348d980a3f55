"""Minari export of a dataset (:func:`export_minari`): Arrow backend, no JPEG.

For ``minari`` tools; ``docs/datasets.md`` says why the ``.npz`` stays the primary format.
minari is imported only when a dataset is exported.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np

from latent_gridworld.core.world import observed_maze
from latent_gridworld.datasets.files import Dataset
from latent_gridworld.encoders.ascii import codes_to_ascii
from latent_gridworld.encoders.pixels import codes_to_image
from latent_gridworld.envs.gridworld import LatentGridworldEnv


def export_minari(
    dataset: Dataset,
    dataset_id: str,
    root: str | os.PathLike[str] | None = None,
    tile_size: int = 8,
) -> Any:
    """Write ``dataset`` as a Minari dataset (Arrow backend, no JPEG) for ``minari`` tools.

    Observations are what the dataset's env returns (ASCII: ``{"view", "goal"}``; Pixel:
    ``{"image", "goal"}``, rendered with ``tile_size``; plus ``"maze"`` and ``"position"`` in a
    world with those cues, as in world v1); rewards are 1 on reaching each goal.
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
    config = env.config
    import dataclasses

    import gymnasium as gym

    base = gym.spec(info.world_id)
    spec = dataclasses.replace(base, kwargs={**base.kwargs, **env_kwargs})

    def buffers() -> Iterator[Any]:
        for i, e in enumerate(dataset):
            if obs_mode == "pixel":
                obs = {"image": np.stack([codes_to_image(v, tile_size) for v in e.views])}
            else:
                obs = {"view": codes_to_ascii(e.views.reshape(len(e.views), -1))}
            obs["goal"] = e.goals.astype(np.int64)
            if config.maze_cue:  # the env's "maze" key: one cue for the whole episode
                obs["maze"] = np.full(len(e.views), observed_maze(e.maze, config.n_mazes))
            if config.position_cue:
                obs["position"] = e.positions.astype(np.int64)
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
                    f"latent-gridworld expert demonstrations ({info.world_id}, split {info.split}, "
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
