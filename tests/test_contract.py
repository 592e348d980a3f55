"""``latent_gridworld.testing.check_contract`` on every env, the wrappers users stack, and adapters.

And on deliberately broken wrappers: a checker that passes everything would pass here too.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from latent_gridworld.testing import ContractError, check_contract

SMALL: dict[str, Any] = {"size": 9, "n_mazes": 8, "max_steps": 40}


def test_every_registered_env(env_id: str) -> None:
    check_contract(gym.make(env_id))


def test_every_registered_vector_env(env_id: str) -> None:
    check_contract(gym.make_vec(env_id, 3))


@pytest.mark.parametrize("obs_format", ["onehot", "flat"])
def test_obs_formats_single_and_vector(env_id: str, obs_format: str) -> None:
    check_contract(gym.make(env_id, obs_format=obs_format))
    check_contract(gym.make_vec(env_id, 2, obs_format=obs_format))


@pytest.mark.parametrize(
    ("stack", "options"),
    [
        # FlattenObservation holds a lambda: such a stack does not pickle (a Gymnasium limit)
        pytest.param(gym.wrappers.FlattenObservation, {"pickles": False}, id="Flatten"),
        pytest.param(
            gym.wrappers.RecordEpisodeStatistics,
            {"ignore": ("['episode']['t']",)},  # the episode's wall-clock time
            id="RecordEpisodeStatistics",
        ),
        pytest.param(
            lambda e: gym.wrappers.FrameStackObservation(gym.wrappers.FlattenObservation(e), 3),
            {"pickles": False},
            id="Flatten+FrameStackObservation",
        ),
    ],
)
def test_gymnasium_wrapper_stacks(env_id: str, stack: Any, options: dict[str, Any]) -> None:
    check_contract(stack(gym.make(env_id)), **options)


def test_retrieval_observation_wrapper() -> None:
    pytest.importorskip("faiss")
    from agents.memory import EpisodicMemory
    from agents.rl import RetrievalObservation
    from latent_gridworld.datasets import generate_dataset

    pool = generate_dataset("ASCII", episodes=48, split="train", seed=0, progress=False, **SMALL)
    memory = EpisodicMemory(n_object_types=8)
    memory.extend(pool)
    for mode in ("oracle", "none"):
        env = RetrievalObservation(gym.make("LatentGridworld/ASCII-v0", **SMALL), memory, mode)
        check_contract(env)


def test_sb3_adapter() -> None:
    pytest.importorskip("stable_baselines3")
    from latent_gridworld.sb3 import LatentGridworldSB3VecEnv

    check_contract(LatentGridworldSB3VecEnv.from_id("LatentGridworld/ASCII-v0", 3, **SMALL))
    check_contract(LatentGridworldSB3VecEnv.from_id("LatentGridworld/Pixel-v1", 2))


# ------------------------------------------------------------------------------------------
# broken envs are caught, with a message naming the breach


class _SameBuffer(gym.ObservationWrapper[Any, int, Any]):
    """Writes every observation into one array, as a careless fast env would."""

    def __init__(self, env: gym.Env[Any, int]) -> None:
        super().__init__(env)
        self._buffer: np.ndarray | None = None

    def observation(self, observation: Any) -> Any:
        if self._buffer is None:
            self._buffer = np.array(observation["view"])
        self._buffer[...] = observation["view"]
        return {**observation, "view": self._buffer}


class _DropsOption(gym.Wrapper[Any, int, Any, int]):
    """Loses one reset option on the way down (the vector env once lost ``placement``)."""

    def __init__(self, env: gym.Env[Any, int], option: str) -> None:
        super().__init__(env)
        self.option = option

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        options = {k: v for k, v in (options or {}).items() if k != self.option}
        return self.env.reset(seed=seed, options=options)


class _Noisy(gym.ObservationWrapper[Any, int, Any]):
    """Draws from an unseeded generator: not reproducible under a seed."""

    def __init__(self, env: gym.Env[Any, int]) -> None:
        super().__init__(env)
        self.rng = np.random.default_rng()

    def observation(self, observation: Any) -> Any:
        return {**observation, "goal": int(self.rng.integers(8))}


@pytest.mark.parametrize(
    ("wrap", "message"),
    [
        (_SameBuffer, r"no aliasing: obs 0\['view'\] and obs 1\['view'\] share memory"),
        (lambda e: _DropsOption(e, "placement"), r"reset option \{'placement': 1\}: placement 1"),
        (lambda e: _DropsOption(e, "maze"), r"options\['maze'\]=\d+: info\['maze'\] is"),
        (lambda e: _DropsOption(e, "split"), r"options\['split'\]='\w+': info\['split_id'\]"),
        (_Noisy, r"determinism \(seed 0, options None\)"),
    ],
)
def test_a_broken_env_is_named(wrap: Any, message: str) -> None:
    env = wrap(gym.make("LatentGridworld/ASCII-v0", **SMALL))
    with pytest.raises(ContractError, match=message):
        check_contract(env, make=lambda render_mode: gym.make("LatentGridworld/ASCII-v0"))
