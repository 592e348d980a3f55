"""The benchmark's presets: the sizes of a run, the training recipe, and how long each takes.

Its own module so that the preset values sit in one place, apart from the code that runs them
(``--help`` lists them with :func:`describe_presets`).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from latent_gridworld.registration import WORLD_V1


@dataclass
class Preset:
    """Sizes of one benchmark run.

    Attributes:
        seeds: Training seeds (one baseline and one retrieval agent each).
        steps: Gradient steps per agent (both agents get the same number).
        eval_tasks: Closed-loop tasks per split, agent and seed.
        pool_episodes: Expert episodes in each seed's pool dataset (and memory).
        eval_every: Steps between the closed-loop evaluations logged to TensorBoard.
        train: Other :class:`~agents.bc.train.TrainConfig` fields.
        duration: How long the preset takes on 2 cores, and where that number comes from
            (``--help`` and the run's first line say it, so nobody starts hours by accident).
    """

    seeds: list[int]
    steps: int
    eval_tasks: int
    pool_episodes: int = 4000
    eval_every: int = 1000
    train: dict[str, Any] = field(default_factory=dict)
    duration: str = ""


# The recipe of docs/results.md section 10: the goal-location loss, object-location tokens in
# every step row, and an oracle whose relevant episode passed the goal on the way to another
# goal, trimmed to the steps that show it (the retrieval settings do not touch the baseline).
RECIPE: dict[str, Any] = {
    "aux_goal_weight": 1.0,
    "object_slots": 2,
    "memory_trim": "goal",
    "relevant_goal": "other",
}
# the world-v1 recipe (docs/results.md, world v1): the v0 recipe's knobs, measured again there,
# with retrieved episodes cut to the walk around the goal's sighting (``route``): v1's one
# decision is which hub exit leads to the goal's arm, and the walk out of that arm shows it
# (5 seeds, 200 latent tasks each: 0.528 with ``route``, 0.352 with ``goal`` over seeds 0-2),
# and no within-episode ICL episodes in the pool (seed 0: latent 0.81 without, 0.525 with;
# docs/results.md, world v1 ablations)
V1_RECIPE: dict[str, Any] = {**RECIPE, "memory_trim": "route", "pool_icl_share": 0.0}
# 8,000 steps: at 2,500 the retrieval agent did not yet read its memory in v1 (latent 0.06, as
# with distractors only); at 8,000 it did (0.30 vs 0.06), docs/results.md
V1_STEPS = 8000
V1_POOL_EPISODES = 2000
V1_DEMO_DURATION = (
    "540 s measured for `make demo` from a fresh clone, venv included (pip cache warm; a cold "
    "venv took 221 s), with another training run beside it (training 421 s, both agents side "
    "by side)"
)
V1_DEFAULT_DURATION = (
    "2,297 s measured for 9 of its 10 agents on 2 cores shared with other jobs (load 3-5; "
    "192-904 s per agent, two side by side) plus 74 s of evaluation; not timed on a quiet "
    "machine"
)

# World v1 (the registered -v1 ids' world) with the position cue the object-location tokens
# read; world v0 (braided 13x13) with the benchmark's old success rule, 2 x shortest + 4, now
# the env's own budget, so that the v0 tables reproduce.
WORLD_V1_BC: dict[str, Any] = {**WORLD_V1, "position_cue": True}
WORLD_V0_BC: dict[str, Any] = {
    "size": 13,
    "view_size": 5,
    "position_cue": True,
    "budget_scale": 2.0,
    "budget_offset": 4,
}

DEFAULT_PRESET = "default"
PRESETS = {
    # the experiment of docs/results.md, world v1
    "default": Preset(
        seeds=[0, 1, 2, 3, 4],
        steps=V1_STEPS,
        eval_tasks=200,
        pool_episodes=V1_POOL_EPISODES,
        train={**V1_RECIPE, "world": dict(WORLD_V1_BC)},
        duration=V1_DEFAULT_DURATION,
    ),
    # `make demo`: the default with one seed and fewer tasks, so that a fresh clone (venv set-up
    # included) finishes within 15 minutes
    "demo": Preset(
        seeds=[0],
        steps=V1_STEPS,
        eval_tasks=100,
        pool_episodes=V1_POOL_EPISODES,
        eval_every=0,
        train={**V1_RECIPE, "world": dict(WORLD_V1_BC)},
        duration=V1_DEMO_DURATION,
    ),
    # world v0 (docs/results.md, history): the 5-seed experiment of the old tables
    "v0-default": Preset(
        seeds=[0, 1, 2, 3, 4],
        steps=8000,
        eval_tasks=200,
        train={**RECIPE, "world": dict(WORLD_V0_BC)},
        duration="about 1.5-2 h, estimated from docs/results.md's v0 history (training "
        "662-733 s per baseline and 1,244-1,344 s per retrieval agent and seed, two jobs side "
        "by side, evaluation 1,103 s); never timed end to end",
    ),
    # world v0: the first recipe of the v0 history (2,000 steps, no object tokens)
    "v0-first-recipe": Preset(
        seeds=[0, 1, 2, 3, 4],
        steps=2000,
        eval_tasks=200,
        train={"aux_goal_weight": 1.0, "world": dict(WORLD_V0_BC)},
        duration="not timed end to end; its training took 162-282 s per agent and seed "
        "on a quiet machine (docs/results.md, v0 history)",
    ),
    # world v0: the old `make demo`
    "v0-demo": Preset(
        seeds=[0],
        steps=2500,
        eval_tasks=100,
        pool_episodes=2000,
        eval_every=0,
        train={**RECIPE, "world": dict(WORLD_V0_BC)},
        duration="446 s measured before the BC speed-up (`make demo` from a fresh clone, "
        "venv included: 9 min 13 s)",
    ),
    # seconds, for tests and smoke checks: a 7x7 world and a tiny model (numbers meaningless)
    "smoke": Preset(
        seeds=[0],
        steps=30,
        eval_tasks=8,
        pool_episodes=200,
        eval_every=0,
        train={
            "world": {
                "size": 7,
                "view_size": 3,
                "n_mazes": 4,
                "n_object_types": 4,
                "objects_per_maze": 3,
                "position_cue": True,
            },
            "model": {"d_token": 4, "d_model": 16, "n_layers": 1, "n_heads": 2},
            "batch_size": 8,
            "eval_tasks": 0,
            "stream": {"buffer_size": 16, "episodes_per_maze": 4, "new_mazes_per_step": 1},
        },
        duration="about 30 s; for tests, its numbers mean nothing",
    ),
}


def describe_presets(width: int = 96) -> str:
    """The presets, their sizes and durations, one paragraph each (the end of ``--help``)."""
    lines = ["presets (durations on a 2-core machine):"]
    indent = max(len(name) for name in PRESETS) + 3
    for name, p in PRESETS.items():
        seeds = f"{len(p.seeds)} seed{'s' if len(p.seeds) > 1 else ''}"
        text = (
            f"{seeds} x {p.steps:,} steps x {p.eval_tasks} tasks/split"
            f"{' (the default)' if name == DEFAULT_PRESET else ''}: {p.duration}"
        )
        lines.append(
            textwrap.fill(
                text,
                width,
                initial_indent=f"  {name:<{indent - 2}}",
                subsequent_indent=" " * indent,
            )
        )
    return "\n".join(lines)
