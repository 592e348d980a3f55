"""Observation formats: the ``Dict`` observation, or one a client without ``Dict`` support takes.

``obs_format`` (a keyword of ``gym.make`` and ``gym.make_vec``) picks one of:

- ``"dict"`` (default): the native ``Dict`` with a ``Discrete`` goal (and ``Discrete`` /
  ``MultiDiscrete`` cues).
- ``"onehot"``: the same ``Dict`` keys, each ``Discrete`` / ``MultiDiscrete`` entry replaced by a
  float32 one-hot ``Box`` (a ``MultiDiscrete`` becomes its one-hots concatenated), the view
  unchanged. Every entry is a ``Box``: what SB3's ``VecFrameStack`` and ``VecNormalize`` (with
  their defaults) require.
- ``"flat"``: one float32 ``Box`` of shape ``(n,)``: the ``"onehot"`` entries, each raveled
  row-major, concatenated in the ``Dict``'s key order (sorted: ``goal``, ``image``, ``maze``,
  ``position``, ``view``; absent keys skipped). Values are not rescaled (pixels stay 0..255,
  ASCII codes 35..90). It equals ``gymnasium.spaces.flatten`` of the ``Dict`` observation cast
  to float32, and :func:`flat_layout` gives each key's slice. Tianshou's ``SpaceInfo``, CleanRL
  (``single_observation_space.shape``) and float-layer Q-networks take it as is.

The functions work on single observations and on batches (any leading axes).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from gymnasium import spaces

ObsFormat = Literal["dict", "onehot", "flat"]
OBS_FORMATS: tuple[str, ...] = ("dict", "onehot", "flat")


def check_obs_format(obs_format: Any) -> ObsFormat:
    """``obs_format`` if valid; ValueError naming the valid formats otherwise."""
    if not isinstance(obs_format, str) or obs_format not in OBS_FORMATS:
        raise ValueError(
            f"unknown obs_format {obs_format!r}; valid: " + ", ".join(repr(f) for f in OBS_FORMATS)
        )
    return obs_format  # type: ignore[return-value]


def _onehot_size(space: spaces.Space[Any]) -> int:
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return int(np.sum(space.nvec))
    raise TypeError(f"not a discrete space: {space}")


def onehot_space(space: spaces.Dict) -> spaces.Dict:
    """``space`` with every ``Discrete`` / ``MultiDiscrete`` entry as a float32 one-hot ``Box``."""
    entries: dict[str, spaces.Space[Any]] = {}
    for key, sub in space.spaces.items():
        if isinstance(sub, (spaces.Discrete, spaces.MultiDiscrete)):
            entries[key] = spaces.Box(0.0, 1.0, (_onehot_size(sub),), np.float32)
        else:
            entries[key] = sub
    return spaces.Dict(entries)


def flat_layout(space: spaces.Dict) -> dict[str, slice]:
    """``key -> slice`` of each ``Dict`` entry in the ``"flat"`` vector (``space``: the Dict)."""
    layout: dict[str, slice] = {}
    start = 0
    for key, sub in onehot_space(space).spaces.items():
        assert isinstance(sub, spaces.Box)
        size = int(np.prod(sub.shape))
        layout[key] = slice(start, start + size)
        start += size
    return layout


def format_space(space: spaces.Dict, obs_format: ObsFormat) -> spaces.Space[Any]:
    """The observation space of ``obs_format``, given the ``"dict"`` space."""
    if obs_format == "dict":
        return space
    onehot = onehot_space(space)
    if obs_format == "onehot":
        return onehot
    lows, highs = [], []
    for sub in onehot.spaces.values():
        assert isinstance(sub, spaces.Box)
        lows.append(np.asarray(sub.low, dtype=np.float32).ravel())
        highs.append(np.asarray(sub.high, dtype=np.float32).ravel())
    low, high = np.concatenate(lows), np.concatenate(highs)
    return spaces.Box(low, high, low.shape, np.float32)


def _onehot(sub: spaces.Space[Any], value: np.ndarray) -> np.ndarray:
    value = np.asarray(value, dtype=np.int64)
    if isinstance(sub, spaces.Discrete):
        return np.eye(int(sub.n), dtype=np.float32)[value - int(sub.start)]
    assert isinstance(sub, spaces.MultiDiscrete)
    parts = [
        np.eye(int(n), dtype=np.float32)[value[..., j] - int(sub.start[j])]
        for j, n in enumerate(np.asarray(sub.nvec).ravel())
    ]
    return np.concatenate(parts, axis=-1)


def format_observation(
    space: spaces.Dict, obs: dict[str, Any], obs_format: ObsFormat, batch_dims: int = 0
) -> Any:
    """``obs`` (a ``"dict"`` observation of ``space``) in ``obs_format``.

    ``batch_dims`` leading axes (1 for a vector env's batch) are kept as they are.
    """
    if obs_format == "dict":
        return obs
    out: dict[str, np.ndarray] = {}
    for key, sub in space.spaces.items():
        if isinstance(sub, (spaces.Discrete, spaces.MultiDiscrete)):
            out[key] = _onehot(sub, obs[key])
        else:
            out[key] = obs[key]
    if obs_format == "onehot":
        return out
    parts = []
    for key in space.spaces:
        value = np.asarray(out[key])
        lead = value.shape[:batch_dims]
        parts.append(value.reshape(*lead, -1).astype(np.float32, copy=False))
    return np.concatenate(parts, axis=-1)
