"""Registered environment ids: one table of variants, registered in a loop."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

NAMESPACE = "LatentGridworld"

# id name -> fixed kwargs. Bump the version suffix on any change that alters behaviour (the
# golden rollout hashes in tests/ enforce it).
# World v1 (ours): the radial-arm family with the step budget in the env; see
# docs/environments.md. A 3x3 view needs 12-px tiles for SB3's default CNN (>= 36 px).
WORLD_V1: dict[str, Any] = {
    "maze_family": "radial",
    "size": 21,
    "view_size": 3,
    "room_size": 5,
    # lists, not tuples: a spec's kwargs survive its JSON round trip (WorldConfig takes both)
    "n_arms": [10, 12],
    "arm_length": [7, 10],
    "n_mazes": 16,
    "objects_per_maze": 8,
    "latent_per_maze": 6,
    "budget_scale": 1.5,
    "budget_offset": 2,
    # the hub room looks the same in every maze, so without the cue no memoryless agent can
    # tell from a test start which maze it is in (measured: a BC baseline 0.17 explicit
    # without it); rats in a radial maze have their room's cues
    "maze_cue": True,
    # half the train tasks start in the hub, as every test task does: a BC baseline trained
    # only from arm ends reached 0.22 explicit from the hub (docs/results.md, world v1)
    "hub_start_share": 0.5,
}

VARIANTS: dict[str, dict[str, Any]] = {
    "Pixel-v0": {"obs_mode": "pixel"},
    "ASCII-v0": {"obs_mode": "ascii"},
    "Pixel-v1": {"obs_mode": "pixel", "tile_size": 12, **WORLD_V1},
    "ASCII-v1": {"obs_mode": "ascii", **WORLD_V1},
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
