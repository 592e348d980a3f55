"""An SB3 ``VecEnv`` backed by the batched ``LatentGridworldVectorEnv`` (no Python env loop).

Not imported by ``import latent_gridworld`` (stable-baselines3 imports torch). Install the
``agents`` extra, then::

    from stable_baselines3 import PPO
    from latent_gridworld.sb3 import LatentGridworldSB3VecEnv

    venv = LatentGridworldSB3VecEnv.from_id("LatentGridworld/Pixel-v0", num_envs=64)
    PPO("MultiInputPolicy", venv).learn(100_000)

SB3 semantics: an env whose episode ends is reset in the same step; its last observation is in
``infos[i]["terminal_observation"]``, ``infos[i]["TimeLimit.truncated"]`` is True when it was
cut by the step limit rather than by reaching the goal, and ``infos[i]["is_success"]`` says
whether it reached the goal. Wrap with ``VecMonitor`` for episode returns and lengths.

>>> venv = LatentGridworldSB3VecEnv(num_envs=2, obs_mode="ascii")
>>> venv.seed(0)
[0, 1]
>>> obs = venv.reset()
>>> obs["view"].shape, obs["goal"].shape
((2, 25), (2,))
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from latent_gridworld.vector import LatentGridworldVectorEnv

INFO_MODES = ("done", "all")


class LatentGridworldSB3VecEnv(VecEnv):
    """SB3's ``VecEnv`` interface over one batched latent-gridworld env (no Python env loop).

    Args:
        num_envs: Number of environments (ignored when ``env`` is given).
        env: An existing batched env in ``SAME_STEP`` autoreset mode; built from the other
            arguments when ``None``.
        infos: ``"done"`` (default): ``infos[i]`` holds the episode's final info only for envs
            whose episode just ended (every other dict is empty), which keeps the per-step
            Python cost at one empty dict per env; ``"all"``: every env gets its full info
            dict each step (slower at large ``num_envs``).
        **env_kwargs: Arguments of :class:`~latent_gridworld.vector.LatentGridworldVectorEnv`
            (``obs_mode``, ``tile_size``, ``render_mode``, and any ``WorldConfig`` field).
    """

    def __init__(
        self,
        num_envs: int = 8,
        env: LatentGridworldVectorEnv | None = None,
        infos: str = "done",
        **env_kwargs: Any,
    ) -> None:
        if infos not in INFO_MODES:
            raise ValueError(f"unknown infos mode {infos!r}; valid: {INFO_MODES}")
        if env is None:
            if "autoreset_mode" in env_kwargs:
                raise ValueError("the SB3 adapter always uses autoreset_mode SAME_STEP")
            env = LatentGridworldVectorEnv(
                num_envs=num_envs, autoreset_mode=AutoresetMode.SAME_STEP, **env_kwargs
            )
        elif env.autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                "the SB3 adapter needs a batched env with autoreset_mode=AutoresetMode.SAME_STEP "
                f"(SB3 resets finished envs in the same step), got {env.autoreset_mode}"
            )
        self.venv = env
        self.info_mode = infos
        self._actions: np.ndarray | None = None
        # the batched env's latest info (arrays over envs, current episodes: after a same-step
        # reset, the new episode's): wrappers that need every env's maze/goal/seen objects read
        # it here without paying for infos="all"
        self.batched_info: dict[str, Any] = {}
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)

    @classmethod
    def from_id(cls, env_id: str, num_envs: int = 8, **kwargs: Any) -> LatentGridworldSB3VecEnv:
        """The adapter for a registered id (its registered kwargs, then ``kwargs``).

        >>> LatentGridworldSB3VecEnv.from_id("LatentGridworld/Pixel-v0", 2).observation_space
        Dict('goal': Discrete(8), 'image': Box(0, 255, (40, 40, 3), uint8))
        """
        spec = gym.spec(env_id)
        if spec.vector_entry_point != "latent_gridworld.vector:LatentGridworldVectorEnv":
            raise ValueError(f"{env_id} is not a latent-gridworld id with a batched env")
        return cls(num_envs=num_envs, **{**spec.kwargs, **kwargs})

    # ------------------------------------------------------------------ VecEnv API

    def reset(self) -> VecEnvObs:
        """Reset every env, with the seeds and options set by ``seed()``/``set_options()``."""
        seeds = self._seeds if any(s is not None for s in self._seeds) else None
        options = self._options[0] if self._options and self._options[0] else None
        if any(o != self._options[0] for o in self._options):
            raise ValueError("the batched env applies one options dict to every env")
        obs, info = self.venv.reset(seed=seeds, options=options)
        self.batched_info = info
        self.reset_infos = _unbatch_info(info, self.num_envs)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions for :meth:`step_wait`."""
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        """Step every env; finished envs are reset, their last observation kept in ``infos``."""
        if self._actions is None:
            raise RuntimeError("call step_async(actions) before step_wait()")
        actions = np.asarray(self._actions)
        if actions.ndim == 2 and actions.shape[1] == 1:  # SB3 may pass (n, 1) for Discrete
            actions = actions[:, 0]
        obs, rewards, terminated, truncated, info = self.venv.step(actions)
        self._actions = None
        self.batched_info = info
        dones = terminated | truncated
        if self.info_mode == "all":
            infos = _unbatch_info(info, self.num_envs)
        else:
            infos = [{} for _ in range(self.num_envs)]
        if dones.any():
            final_obs = info["final_obs"]
            final_info = info["final_info"]
            for i in np.flatnonzero(dones):
                entry = infos[i]
                entry.update(
                    {k: _item(final_info[k][i]) for k in final_info if not k.startswith("_")}
                )
                entry["terminal_observation"] = final_obs[i]
                entry["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
                entry["is_success"] = bool(terminated[i])
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        """Close the batched env."""
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        """Full-maze RGB frames, one per env (needs ``render_mode="rgb_array"``)."""
        if self.venv.render_mode != "rgb_array":
            raise ValueError(
                f"get_images needs render_mode='rgb_array', got {self.venv.render_mode!r}"
            )
        frames = self.venv.render()
        return list(frames) if frames is not None else [None] * self.num_envs

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """An attribute of the batched env (shared by all envs), once per requested index."""
        value = getattr(self.venv, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of the batched env; every env shares it, so only all indices."""
        if len(list(self._indices(indices))) != self.num_envs:
            raise ValueError("the batched env's attributes are shared: set them for all envs")
        setattr(self.venv, attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Call a method of the batched env for each requested env.

        A method with an ``index`` parameter (e.g. ``get_state``) is called once per env with
        that index; any other method is called once and its result repeated per index.
        """
        method = getattr(self.venv, method_name)
        indices = list(self._indices(indices))
        if "index" in inspect.signature(method).parameters:
            return [method(*method_args, index=i, **method_kwargs) for i in indices]
        result = method(*method_args, **method_kwargs)
        return [result for _ in indices]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        """Always False: the batched env holds no Gymnasium wrappers."""
        return [False for _ in self._indices(indices)]

    def _indices(self, indices: VecEnvIndices) -> Iterable[int]:
        return self._get_indices(indices)


def _item(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _unbatch_info(info: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """A Gymnasium vector info (arrays + ``_key`` masks) as one dict per env."""
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, value in info.items():
        if key.startswith("_") or key in ("final_obs", "final_info"):
            continue
        mask = info.get(f"_{key}")
        for i in range(n):
            if mask is None or mask[i]:
                out[i][key] = _item(value[i])
    return out
