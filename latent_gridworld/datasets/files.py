"""A dataset in memory and on disk: :class:`DatasetInfo`, :class:`Dataset`, save and load.

The columns and their deterministic ``.npz`` file are :mod:`latent_gridworld.arrays`'; this
module adds what produced them (the header: env id, world arguments, split, seed, ...) and the
rules that turn that header back into the world (:attr:`DatasetInfo.config`).

The env is a registered id (``LatentGridworld/ASCII-v1``): its registered kwargs are the world,
``env_kwargs`` records them with any override, so the file alone rebuilds its world, and
``env_id`` records the id, so a loader can refuse a dataset of another world version
(``load_dataset(path, env=...)``). Files from before ids were recorded have no ``env_id``;
they were made from the :class:`WorldConfig` defaults (the v0 world) and their
``env_kwargs``, and load as before.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from latent_gridworld.arrays import EpisodeArrays, read_arrays, write_arrays
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.constants import SPLITS
from latent_gridworld.integrity import FileFormatError
from latent_gridworld.registration import NAMESPACE, resolve_env_id

DATASET_FORMAT = "latent-gridworld-dataset"
DATASET_VERSION = 1
ENV_NAMES = {"ascii": "ASCII", "pixel": "Pixel"}


@dataclass(frozen=True)
class DatasetInfo:
    """What produced a dataset.

    Attributes:
        env: ``"ASCII"`` or ``"Pixel"`` (observation encoding the data was made for).
        env_kwargs: Keyword arguments of the env: the id's registered ones (but ``obs_mode``)
            with the overrides given. The world is :class:`WorldConfig` of these (and ``split``,
            ``icl_share``), with nothing taken from the registry on load.
        split: Split the tasks were drawn from.
        icl_share: Share of ICL episodes requested (train split only).
        seed: Generation seed.
        stream: Episodes per fresh stream maze (0: tasks sampled from ``split``).
        first_maze: Offset into the maze stream.
        content_sha256: Hash of the stored content (equal arguments give equal hashes).
        env_id: The registered id the world came from (``LatentGridworld/ASCII-v1``); ``""``
            in a file from before ids were recorded (see :attr:`world_id`).
    """

    env: str
    env_kwargs: dict[str, Any]
    split: str
    icl_share: float
    seed: int
    stream: int = 0
    first_maze: int = 0
    content_sha256: str = ""
    env_id: str = ""

    @property
    def config(self) -> WorldConfig:
        """The world configuration of the episodes."""
        return _world_config(self.env_kwargs, self.split, self.icl_share)

    @property
    def world_id(self) -> str:
        """The id the dataset was made for: :attr:`env_id`, or the v0 id for an older file."""
        return self.env_id or f"{NAMESPACE}/{self.env}-v0"


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


def _check_kwargs(env_kwargs: Mapping[str, Any]) -> None:
    allowed = set(WorldConfig.__dataclass_fields__) | set(_ENV_ONLY_KWARGS)
    allowed -= {"split", "icl_share"}
    unknown = set(env_kwargs) - allowed
    if unknown:
        raise ValueError(
            f"unknown env kwarg(s) {sorted(unknown)}; valid: {', '.join(sorted(allowed))} "
            "(split and icl_share have their own options)"
        )


def normalize_env(env: str) -> str:
    """The encoding of an env name: ``"ascii"``, ``"LatentGridworld/ASCII-v1"`` -> ``"ASCII"``.

    Any name :func:`~latent_gridworld.registration.resolve_env_id` reads (same for Pixel).
    """
    return ENV_NAMES[_registered_kwargs(resolve_env_id(env))["obs_mode"]]


def _registered_kwargs(env_id: str) -> dict[str, Any]:
    """The kwargs ``env_id`` was registered with (``obs_mode`` included)."""
    kwargs = dict(gym.spec(env_id).kwargs)
    kwargs.setdefault("obs_mode", "pixel")  # the env's default
    return kwargs


def resolve_env(env: str, env_kwargs: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """``(env_id, encoding, env_kwargs)`` of a dataset of ``env`` with ``env_kwargs`` overrides.

    ``env`` is any name :func:`~latent_gridworld.registration.resolve_env_id` reads (``ASCII``
    is the v0 world); the kwargs are the registered ones but ``obs_mode`` (the encoding),
    overridden by ``env_kwargs``, sorted: what the dataset records.

    Raises:
        ValueError: an unknown env or kwarg.
    """
    env_id = resolve_env_id(env)
    registered = _registered_kwargs(env_id)
    encoding = ENV_NAMES[registered.pop("obs_mode")]
    _check_kwargs(env_kwargs)
    return env_id, encoding, dict(sorted({**registered, **env_kwargs}.items()))


def check_env(info: DatasetInfo, env: str, path: str | os.PathLike[str] = "the dataset") -> None:
    """ValueError naming both ids unless the dataset was made for the id ``env`` names.

    ``env`` is read as :func:`~latent_gridworld.registration.resolve_env_id` reads it, so a
    bare ``ASCII`` means ``LatentGridworld/ASCII-v0``. Only the id is compared: overrides
    recorded in ``env_kwargs`` (``--kw``) are the dataset maker's choice.
    """
    want = resolve_env_id(env)
    if info.world_id != want:
        made = info.world_id if info.env_id else f"{info.world_id} (no id recorded: v0 defaults)"
        raise ValueError(f"{path} is a dataset of {made}, not of {want}")


def _info_header(info: DatasetInfo) -> dict[str, Any]:
    return {
        "format": DATASET_FORMAT,
        "version": DATASET_VERSION,
        "env": info.env,
        "env_id": info.env_id,
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


def load_dataset(path: str | os.PathLike[str], env: str | None = None) -> Dataset:
    """Read a dataset written by :func:`save_dataset` / ``latent-gridworld generate``.

    The result is a sequence of :class:`Episode` (views into the loaded columns). With ``env``
    (an id, or ``ASCII``/``Pixel`` for v0), a dataset of another world version is refused
    (:func:`check_env`).

    Raises:
        FileFormatError: the file is truncated, corrupted, or of another format or version.
        ValueError: ``env`` is given and the dataset was made for another id; both are named.
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
        env_id=str(header.get("env_id", "")),  # absent in files from before ids were recorded
    )
    if env is not None:
        check_env(info, env, path)
    try:
        return Dataset(arrays, info)
    except ValueError as err:
        raise FileFormatError(f"{path}: inconsistent columns: {err}") from err
