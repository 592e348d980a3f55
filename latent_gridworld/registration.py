"""Registered environment ids: one table of variants, registered in a loop, and their names.

:func:`resolve_env_id` is the one reading of an env name on a command line or in an API
(``play --env``, ``generate --env``, :func:`latent_gridworld.datasets.generate_dataset`):
``ASCII`` / ``Pixel`` are the v0 ids, anything else must be a registered id of this package.
"""

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


# the short names: the v0 world, as before ids had versions
SHORT_NAMES = {"ascii": f"{NAMESPACE}/ASCII-v0", "pixel": f"{NAMESPACE}/Pixel-v0"}


def resolve_env_id(name: str) -> str:
    """``ASCII``/``Pixel`` (any case), ``ASCII-v1`` or a full registered id -> the full id.

    Any id registered with an entry point in this package counts, so user variants registered
    with ``gym.register`` work too.

    >>> resolve_env_id("ascii"), resolve_env_id("Pixel-v1")
    ('LatentGridworld/ASCII-v0', 'LatentGridworld/Pixel-v1')

    Raises:
        ValueError: ``name`` is none of these; the message lists the ids registered here.
    """
    if name.lower() in SHORT_NAMES:
        return SHORT_NAMES[name.lower()]
    for env_id in (name, f"{NAMESPACE}/{name}"):
        entry = gym.registry[env_id].entry_point if env_id in gym.registry else None
        if isinstance(entry, str) and entry.startswith("latent_gridworld"):
            return env_id
    ours = sorted(
        k
        for k, spec in gym.registry.items()
        if isinstance(spec.entry_point, str) and spec.entry_point.startswith("latent_gridworld")
    )
    raise ValueError(
        f"unknown env {name!r}; valid: ASCII, Pixel, or a registered LatentGridworld id "
        f"({', '.join(ours)})"
    )
