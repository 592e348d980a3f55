"""Does the retrieval agent read its memory? A teacher-forced probe on training-like samples.

Closed-loop success mixes many effects; this probe isolates one. On held-out samples of the
training stream (stream mazes, where the retrieved relevant episode is the only source of the
goal's location, and pool episodes) it compares the model's expert-action loss and accuracy
when the context holds the relevant episode (the normal retrieval), only distractors (same k),
or nothing. A model that uses the memory has a clearly lower loss with the relevant episode.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from agents.bc.agent import BCAgent
from agents.bc.batch import ContextMaker, to_tensors
from agents.bc.config import TrainConfig
from agents.bc.data import Sample, SampleStream
from agents.bc.model import BCTransformer
from agents.evaluation import evaluate_agent, make_env
from latent_gridworld.core import world as world_core
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.world import build_maze
from latent_gridworld.datasets import expert_episode

PROBE_SEED = 987_654  # a stream seed no training run uses (runs use small seeds)


@torch.no_grad()
def memory_probe(
    model: BCTransformer,
    config: TrainConfig,
    pool: Any,
    memory: Any,
    n_samples: int = 128,
) -> dict[str, dict[str, float]]:
    """Loss and accuracy on stream and pool samples with relevant, distractor-only, no memory.

    Returns:
        ``{"stream": {"relevant_loss": ..., "relevant_acc": ..., "distractors_loss": ...,
        "none_loss": ...}, "pool": {...}}``.
    """
    stream = SampleStream(config.world_config(), pool, config.stream, PROBE_SEED)
    samples: list[Any] = []
    while len(samples) < n_samples:
        samples += stream.batch(config.batch_size)
    distractor_cfg = dataclasses.replace(config, n_relevant=0, n_distractors=config.k)
    variants = {
        "relevant": (config, memory),
        "distractors": (distractor_cfg, memory),
        "none": (config, None),
    }
    out: dict[str, dict[str, float]] = {}
    for kind in ("stream", "pool"):
        subset = [s for s in samples if s.pool == (kind == "pool")]
        if not subset:
            continue
        row: dict[str, float] = {}
        for name, (cfg, mem) in variants.items():
            # goal cells ride along (no effect on the inputs) when the model has a goal head
            aux = 1.0 if model.goal_head is not None else 0.0
            maker = ContextMaker(dataclasses.replace(cfg, aux_goal_weight=aux), mem)
            batch = to_tensors(maker.contexts(subset))
            logits, hidden = model.forward_with_hidden(
                batch["rows"], batch["segment"], batch["time"], batch["pad"]
            )
            targets = batch["targets"]
            mask = targets >= 0
            row[f"{name}_loss"] = float(F.cross_entropy(logits[mask], targets[mask]).item())
            row[f"{name}_acc"] = float((logits[mask].argmax(-1) == targets[mask]).float().mean())
            if model.goal_head is not None:  # where-is-the-goal loss, per coordinate
                rows_l, cols_l = model.goal_logits(hidden)
                cells = batch["goal_cells"]
                m = cells[..., 0] >= 0
                goal = F.cross_entropy(rows_l[m], cells[..., 0][m]) + F.cross_entropy(
                    cols_l[m], cells[..., 1][m]
                )
                row[f"{name}_goal_loss"] = float(goal.item()) / 2
        row["samples"] = float(len(subset))
        out[kind] = {k: round(v, 4) if np.isfinite(v) else v for k, v in row.items()}
    return out


@torch.no_grad()
def goal_location_probe(
    model: BCTransformer,
    config: TrainConfig,
    memory: Any | None,
    splits: tuple[str, ...] = ("explicit", "latent", "new_maze"),
    n_tasks: int = 200,
    seed: int = PROBE_SEED,
) -> dict[str, dict[str, float]]:
    """Whether the model knows where the goal is before it has seen it (needs the goal head).

    For expert episodes of each split's tasks whose goal is not in view at the start, reads
    the auxiliary goal head at the first step (``start_*``) and at the last step before the
    goal comes into view (``before_*``: by then the expert's views have shown which maze this
    is), and reports how often its (row, col) argmax is the goal's cell (``*_acc``) and its
    loss per coordinate (``*_loss``). A baseline that scores well above chance on ``latent``
    has learned where latent objects lie without retrieval (parametric latent learning); a
    retrieval agent that scores higher with the relevant episode than with distractors reads
    it from memory. ``new_maze`` tasks (no memory of the maze exists) give the chance level.
    """
    if model.goal_head is None:
        raise ValueError("the goal-location probe needs a model trained with aux_goal_weight > 0")
    world = config.world_config().replace(icl_share=0.0)
    rng = np.random.default_rng([seed, 7])
    aux = dataclasses.replace(config, aux_goal_weight=1.0)
    variants: dict[str, tuple[TrainConfig, Any]] = {"none": (aux, None)}
    if memory is not None:
        variants["relevant"] = (aux, memory)
        variants["distractors"] = (
            dataclasses.replace(aux, n_relevant=0, n_distractors=config.k),
            memory,
        )
    out: dict[str, dict[str, float]] = {}
    for split in splits:
        samples: list[Sample] = []
        while len(samples) < n_tasks:
            task = world_core.sample_task(world, rng, split)
            ep = expert_episode(world, task, rng)
            if ep.visible[0, task.goal] or len(ep) > config.max_current:
                continue  # goal in view at the start (nothing to know in advance), or too long
            samples.append(Sample(ep, task.goal, (task.maze, 0), pool=split != "new_maze"))
        row: dict[str, float] = {}
        for name, (cfg, mem) in variants.items():
            if mem is not None and split == "new_maze":
                continue  # the pool memory holds nothing of a new maze
            batch = to_tensors(ContextMaker(cfg, mem).contexts(samples))
            _, hidden = model.forward_with_hidden(
                batch["rows"], batch["segment"], batch["time"], batch["pad"]
            )
            rows_l, cols_l = model.goal_logits(hidden)
            first = (batch["segment"] == 0).int().argmax(dim=1)  # the first current step
            seen_at = torch.tensor([int(s.episode.visible[:, s.goal].argmax()) for s in samples])
            idx = torch.arange(len(samples))
            for when, pos in (("start", first), ("before", first + seen_at - 1)):
                r, c = rows_l[idx, pos], cols_l[idx, pos]
                cells = batch["goal_cells"][idx, pos]
                hit = (r.argmax(-1) == cells[:, 0]) & (c.argmax(-1) == cells[:, 1])
                loss = F.cross_entropy(r, cells[:, 0]) + F.cross_entropy(c, cells[:, 1])
                row[f"{name}_{when}_acc"] = round(float(hit.float().mean()), 4)
                row[f"{name}_{when}_loss"] = round(float(loss) / 2, 4)
        out[split] = row
    return out


def closed_loop_belief(
    agent: BCAgent, world: WorldConfig, split: str, n_tasks: int, seed: int
) -> dict[str, float | None]:
    """Closed loop: does knowing where the goal is at the start lead to success?

    Runs ``agent`` on the benchmark's tasks of ``split`` (``evaluate_agent`` with ``seed``),
    reads where its goal head puts the goal at each episode's first step, and reports, over
    the tasks whose goal is not in view at the start: how often that belief is the goal's
    cell (``belief_right``), and the success rate when it is (``success_if_right``) and when
    it is not (``success_if_wrong``); None where there is no such task. An agent that acts
    on what it knows succeeds far more often when its belief is right; the goal-location
    probe alone cannot tell that.
    """
    if agent.model.goal_head is None:
        raise ValueError("the belief probe needs a model trained with aux_goal_weight > 0")
    result = evaluate_agent(agent, world, split, n_tasks, seed=seed)
    env = make_env(world, split)
    right = np.zeros(n_tasks, dtype=bool)
    for i in range(n_tasks):
        _, info = env.reset(seed=seed * 100_003 + i)  # the task evaluate_agent ran as number i
        maze = build_maze(world, int(info["maze"]))
        cell = maze.object_cells[maze.object_index(int(info["goal_type"]))]
        right[i] = agent.first_beliefs[i] == (int(cell[0]), int(cell[1]))
    hidden = ~result.trivial

    def rate(mask: np.ndarray) -> float | None:  # None: no such task
        return round(float(result.success[mask].mean()), 4) if mask.any() else None

    return {
        "tasks": int(hidden.sum()),
        "belief_right": round(float(right[hidden].mean()), 4) if hidden.any() else None,
        "success_if_right": rate(hidden & right),
        "success_if_wrong": rate(hidden & ~right),
        "success": rate(hidden),
    }


def told_success(
    agent: BCAgent, world: WorldConfig, split: str, n_tasks: int, seed: int
) -> float | None:
    """Success on the tasks whose goal starts out of view, for a ``told_goal=True`` agent.

    Such an agent is given the goal's true cell at every step, so this is the action side's
    ceiling: what the policy reaches if it always knows where the goal is. The tasks are those of
    ``evaluate_agent`` with ``seed``, as in :func:`closed_loop_belief`.
    """
    if not agent.told_goal:
        raise ValueError("told_success needs an agent built with told_goal=True")
    result = evaluate_agent(agent, world, split, n_tasks, seed=seed)
    hidden = ~result.trivial
    return round(float(result.success[hidden].mean()), 4) if hidden.any() else None
