"""Registered environment ids: one table of variants, registered in a loop."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

NAMESPACE = "LatentGridworld"

# id name -> fixed kwargs. Bump the version suffix on any change that alters behaviour (the
# golden rollout hashes in tests/ enforce it).
VARIANTS: dict[str, dict[str, Any]] = {
    "Pixel-v0": {"obs_mode": "pixel"},
    "ASCII-v0": {"obs_mode": "ascii"},
}


def register_envs() -> None:
    """Register every variant (idempotent)."""
    for name, kwargs in VARIANTS.items():
        env_id = f"{NAMESPACE}/{name}"
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="latent_gridworld.envs.gridworld:LatentGridworldEnv",
            vector_entry_point="latent_gridworld.vector:LatentGridworldVectorEnv",
            kwargs=kwargs,
            # the env enforces its own max_steps; a TimeLimit here would truncate twice
            max_episode_steps=None,
        )
