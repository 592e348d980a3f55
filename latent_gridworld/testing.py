"""Test helpers: registered ids, golden rollout digests, the env contract, latent coverage.

:func:`check_contract` (from :mod:`latent_gridworld.contract`) asserts the env contract on
any env, wrapper stack or adapter built on this package.

``python -m latent_gridworld.testing`` prints the coverage report: the share of latent
(maze, object) pairs that the expert sees inside its view during the first ``train`` episodes.
"""

from __future__ import annotations

import argparse
import hashlib
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from latent_gridworld.contract import ContractError, check_contract
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.constants import SPLITS
from latent_gridworld.core.world import build_maze
from latent_gridworld.expert import expert_action

__all__ = ["ContractError", "check_contract", "golden_digests", "registered_env_ids"]

ENTRY_POINT_PREFIX = "latent_gridworld"

# The info values that go into rollout digests, under the labels and types they had when the v0
# golden hashes were recorded: ``label -> read(info)``. Info keys were renamed since (v0 ``goal``
# is ``goal_type``, v0 ``split``, a str, is ``SPLITS[split_id]``) and ints/bools became numpy
# scalars / 0-d arrays; ``np.asarray`` gives the same dtype and bytes for a Python int and an
# np.int64, or a Python bool and a 0-d bool array, so the recorded hashes still hold. A fixed
# table, not ``INFO_KEYS``: info keys added later stay out of the v0 digests. Do not edit it.
LEGACY_DIGEST_INFO: tuple[tuple[str, Callable[[Mapping[str, Any]], Any]], ...] = (
    ("maze", lambda info: info["maze"]),
    ("goal", lambda info: info["goal_type"]),
    ("goal_index", lambda info: info["goal_index"]),
    ("start", lambda info: info["start"]),
    ("position", lambda info: info["position"]),
    ("split", lambda info: SPLITS[int(info["split_id"])]),
    ("icl", lambda info: info["icl"]),
    ("optimal_steps", lambda info: info["optimal_steps"]),
    ("is_success", lambda info: info["is_success"]),
    ("visible_objects", lambda info: info["visible_objects"]),
    ("seen_objects", lambda info: info["seen_objects"]),
)
# the labels of the info values in rollout digests (v0 names)
DIGEST_INFO_KEYS = tuple(label for label, _ in LEGACY_DIGEST_INFO)

# name -> (gym.make kwargs, policy): the behaviours a golden digest pins down. Random actions
# cover walls and truncation, the expert covers goals, rewards and ICL second goals.
GOLDEN_SCENARIOS: dict[str, tuple[dict[str, Any], str]] = {
    "train-random": ({}, "random"),
    "latent-expert": ({"split": "latent"}, "expert"),
    "explicit-expert": ({"split": "explicit"}, "expert"),
    "icl-expert": ({"icl_share": 1.0, "step_penalty": 0.01}, "expert"),
    "new_maze-cues-random": (
        {"split": "new_maze", "maze_cue": True, "position_cue": True, "view_size": 3},
        "random",
    ),
    "full_view-small-random": ({"full_view": True, "size": 9, "max_steps": 40}, "random"),
}
GOLDEN_SEEDS = (0, 1, 2)
GOLDEN_EPISODES_PER_SEED = 2


def registered_env_ids(prefix: str = ENTRY_POINT_PREFIX) -> list[str]:
    """Every registered id whose entry point lives in this package, sorted.

    >>> "LatentGridworld/ASCII-v0" in registered_env_ids()
    True
    """
    ids = []
    for env_id, spec in gym.registry.items():
        entry = spec.entry_point
        if isinstance(entry, str) and entry.startswith(prefix):
            ids.append(env_id)
        elif callable(entry) and getattr(entry, "__module__", "").startswith(prefix):
            ids.append(env_id)
    return sorted(ids)


def _update_array(h: Any, name: str, value: Any) -> None:
    arr = np.ascontiguousarray(np.asarray(value))
    h.update(f"{name}:{arr.dtype.str}:{arr.shape}:".encode())
    h.update(arr.tobytes())


def update_digest(
    h: Any,
    obs: Mapping[str, Any],
    reward: float | None,
    terminated: bool,
    truncated: bool,
    info: Mapping[str, Any],
    info_fields: Sequence[tuple[str, Callable[[Mapping[str, Any]], Any]]] = LEGACY_DIGEST_INFO,
) -> None:
    """Feed one transition (or a reset, ``reward=None``) into the hash object ``h``.

    ``info_fields``: ``(label, read)`` pairs; ``read(info)`` is hashed under ``label``.
    """
    for key in sorted(obs):
        _update_array(h, f"obs.{key}", obs[key])
    h.update(b"R" + (b"-" if reward is None else struct.pack("<d", float(reward))))
    h.update(bytes([bool(terminated), bool(truncated)]))
    for key, read in info_fields:
        value = read(info)
        if isinstance(value, str):
            h.update(f"info.{key}={value};".encode())
        else:
            _update_array(h, f"info.{key}", value)


def _random_policy(env: gym.Env[Any, Any], rng: np.random.Generator) -> int:
    return int(rng.integers(4))


def _expert_policy(env: gym.Env[Any, Any], rng: np.random.Generator) -> int:
    return expert_action(env)


_POLICIES: dict[str, Callable[[gym.Env[Any, Any], np.random.Generator], int]] = {
    "random": _random_policy,
    "expert": _expert_policy,
}


def rollout_digest(
    env: gym.Env[Any, Any],
    policy: str | Callable[[gym.Env[Any, Any], np.random.Generator], int],
    seeds: Iterable[int] = GOLDEN_SEEDS,
    episodes_per_seed: int = GOLDEN_EPISODES_PER_SEED,
) -> str:
    """sha256 over observations, rewards, flags and :data:`DIGEST_INFO_KEYS` of a rollout.

    For each seed: ``reset(seed=seed)``, then ``episodes_per_seed`` episodes (later ones reset
    without a seed, so the env's own RNG stream is covered too). ``policy`` is ``"random"``
    (actions from ``np.random.default_rng(seed)``), ``"expert"``, or a callable
    ``policy(env, rng) -> action``.
    """
    act = _POLICIES.get(policy) if isinstance(policy, str) else policy
    if act is None or not callable(act):
        raise ValueError(f"unknown policy {policy!r}; valid: 'random', 'expert' or a callable")
    h = hashlib.sha256()
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for episode in range(episodes_per_seed):
            obs, info = env.reset(seed=seed if episode == 0 else None)
            update_digest(h, obs, None, False, False, info)
            done = False
            while not done:
                obs, reward, terminated, truncated, info = env.step(act(env, rng))
                update_digest(h, obs, float(reward), terminated, truncated, info)
                done = terminated or truncated
    return h.hexdigest()


def golden_digests(env_id: str) -> dict[str, str]:
    """The digest of every :data:`GOLDEN_SCENARIOS` entry for ``env_id``.

    A radial-arm world keeps its own size in the small full-view scenario (its arms need a
    21x21 grid); everything else is the same scenario for every id.
    """
    out = {}
    radial = gym.spec(env_id).kwargs.get("maze_family") == "radial"
    for name, (kwargs, policy) in GOLDEN_SCENARIOS.items():
        if radial:
            kwargs = {k: v for k, v in kwargs.items() if k != "size"}
        env = gym.make(env_id, **kwargs)
        try:
            out[name] = rollout_digest(env, policy)
        finally:
            env.close()
    return out


@dataclass(frozen=True)
class LatentCoverage:
    """How often the expert sees latent objects while solving ``train`` tasks.

    Attributes:
        episodes: Episodes run.
        latent_pairs: Latent (maze, object type) pairs in the pool.
        pairs_seen: Latent pairs seen (inside the view) in at least one episode in their maze.
        episode_share: Over episodes, the share in which the maze's latent objects were seen
            (each latent object of the episode's maze counted once).
        per_pair: ``{(maze, object type): (episodes seeing it, episodes in that maze)}``.
    """

    episodes: int
    latent_pairs: int
    pairs_seen: int
    episode_share: float
    per_pair: dict[tuple[int, int], tuple[int, int]]

    @property
    def pair_share(self) -> float:
        """Share of latent pairs seen at least once."""
        return self.pairs_seen / self.latent_pairs if self.latent_pairs else float("nan")


def latent_coverage(
    n_episodes: int = 1000, seed: int = 0, env_id: str = "LatentGridworld/ASCII-v0", **kwargs: Any
) -> LatentCoverage:
    """Run the expert on the first ``n_episodes`` ``train`` episodes and count latent sightings.

    The env is reset with ``seed`` once, then without a seed, like a data-collection loop.
    """
    env = gym.make(env_id, split="train", **kwargs)
    config: WorldConfig = env.unwrapped.config  # type: ignore[attr-defined]
    pairs = {(m, int(t)) for m in range(config.n_mazes) for t in build_maze(config, m).latent_types}
    counts = {pair: [0, 0] for pair in pairs}
    seen_sum, total = 0, 0
    for episode in range(n_episodes):
        _, info = env.reset(seed=seed if episode == 0 else None)
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(expert_action(env))
            done = terminated or truncated
        maze = build_maze(config, int(info["maze"]))
        for t in maze.latent_types:
            c = counts[(maze.maze_id, int(t))]
            c[1] += 1
            hit = bool(info["seen_objects"][t])
            c[0] += hit
            seen_sum, total = seen_sum + hit, total + 1
    env.close()
    return LatentCoverage(
        episodes=n_episodes,
        latent_pairs=len(pairs),
        pairs_seen=sum(1 for s, _ in counts.values() if s > 0),
        episode_share=seen_sum / total if total else float("nan"),
        per_pair={k: (v[0], v[1]) for k, v in sorted(counts.items())},
    )


ENV_ARGUMENTS: tuple[tuple[str, str, str], ...] = (
    ("obs_mode", '"pixel" / "ascii"', "Fixed by the registered id (Pixel / ASCII)."),
    (
        "obs_format",
        '"dict"',
        '"onehot": discrete entries as float32 one-hot Boxes; "flat": one float32 Box '
        "(docs/clients.md).",
    ),
    ("tile_size", "8", "Pixels per cell of the pixel observation."),
    ("render_mode", "None", '"rgb_array", "ansi" or "human".'),
    ("render_tile_size", "24", "Pixels per cell of rgb_array / human frames."),
)


def _attribute_docs(cls: type) -> dict[str, str]:
    """``name -> description`` from a Google-style ``Attributes:`` docstring section."""
    doc = (cls.__doc__ or "").split("Attributes:", 1)[-1]
    out: dict[str, str] = {}
    name = ""
    for line in doc.splitlines():
        stripped = line.strip()
        head, sep, rest = stripped.partition(": ")
        if sep and line.startswith(" " * 8) and not line.startswith(" " * 12) and " " not in head:
            name = head
            out[name] = rest
        elif name and stripped:
            out[name] += " " + stripped
    return out


def arguments_table() -> str:
    """The Markdown table of every ``gym.make`` keyword, generated from :class:`WorldConfig`.

    docs/environments.md embeds it; a test keeps the two identical.
    """
    docs = _attribute_docs(WorldConfig)
    defaults = WorldConfig()
    rows = ["| argument | default | meaning |", "|---|---|---|"]
    for name in WorldConfig.__dataclass_fields__:
        text = docs.get(name, "").replace("|", "\\|")
        rows.append(f"| `{name}` | `{getattr(defaults, name)!r}` | {text} |")
    for name, default, text in ENV_ARGUMENTS:
        rows.append(f"| `{name}` | `{default}` | {text} |")
    return "\n".join(rows) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the latent coverage report (or, with ``--arguments-table``, the docs table)."""
    parser = argparse.ArgumentParser(
        prog="python -m latent_gridworld.testing",
        description="Share of latent (maze, object) pairs the expert sees in train episodes.",
    )
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--arguments-table", action="store_true", help="print the gym.make arguments table"
    )
    args = parser.parse_args(argv)
    if args.arguments_table:
        print(arguments_table(), end="")
        return 0
    cov = latent_coverage(args.episodes, args.seed)
    print(f"expert train episodes: {cov.episodes} (seed {args.seed}, default settings)")
    print(
        f"latent (maze, object) pairs seen at least once: {cov.pairs_seen}/{cov.latent_pairs} "
        f"= {cov.pair_share:.3f}"
    )
    print(f"episodes in which the maze's latent object was seen: {cov.episode_share:.3f}")
    for (maze, obj), (hits, n) in cov.per_pair.items():
        print(f"  maze {maze:3d} object {chr(65 + obj)}: seen in {hits}/{n} episodes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
