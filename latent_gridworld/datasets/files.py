"""A dataset in memory and on disk: :class:`DatasetInfo`, :class:`Dataset`, save and load.

The columns and their deterministic ``.npz`` file are :mod:`latent_gridworld.arrays`'; this
module adds what produced them (the header: env, world arguments, split, seed, ...) and the
rules that turn that header back into the world (:attr:`DatasetInfo.config`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from latent_gridworld.arrays import EpisodeArrays, read_arrays, write_arrays
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.constants import SPLITS
from latent_gridworld.integrity import FileFormatError

DATASET_FORMAT = "latent-gridworld-dataset"
DATASET_VERSION = 1
ENV_NAMES = {"ascii": "ASCII", "pixel": "Pixel"}


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
