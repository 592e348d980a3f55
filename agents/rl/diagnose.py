"""Does a retrieval PPO agent read the retrieved episodes? Attention mass on what matters.

For latent tasks of the BC benchmark's protocol (same tasks, same env budget) the agent acts
closed loop; at every step the extractor's attention (:meth:`~agents.rl.extractor.
RetrievalExtractor.attention_weights`, averaged over heads) is split into four parts:

- ``null``: the learned "nothing retrieved" slot;
- ``relevant_goal``: steps of the relevant episode (same maze, goal seen) whose view shows the
  goal object: the steps that say where the goal is;
- ``relevant_other``: the relevant episode's other steps;
- ``distractor``: steps of the other retrieved episodes.

Next to each mass it prints the share of retrieved slots of that kind (what uniform attention
over the valid steps would give), so "reads the relevant episode" means a mass clearly above
its share. It also measures how much the action distribution depends on the relevant episode:
the total-variation distance between the policy's action probabilities with the episodes as
retrieved and with the relevant episode's steps masked out, next to the same distance with one
distractor episode masked instead (the control).

    python -m agents.rl.diagnose runs/rl_v1/oracle_s0 --tasks 200
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.memory import RetrievalQuery, make_retriever
from agents.rl.agent import PPOAgent
from agents.rl.evaluate import PolicyStepper
from agents.rl.runs import load_run
from agents.rl.wrapper import encode_episodes
from latent_gridworld.core.constants import OBJECT_BASE

PARTS = ("null", "relevant_goal", "relevant_other", "distractor")


def attention_report(run: str | Path, n_tasks: int = 200, seed: int = 0) -> dict[str, Any]:
    """Attention mass per part and slot shares, at the first step and over whole episodes."""
    import torch
    from stable_baselines3.common.preprocessing import preprocess_obs

    from agents.evaluation import make_env

    model, spec, memory = load_run(run)
    if spec.mode != "oracle" or memory is None:
        raise ValueError(f"{run} is not an oracle-retrieval run (mode {spec.mode!r})")
    world = spec.world_config()
    agent = PPOAgent(model, spec, memory, seed=seed)
    retriever = make_retriever(
        "oracle", memory, n_relevant=spec.n_relevant, n_distractors=spec.n_distractors
    )
    rng = np.random.default_rng(seed)
    extractor = model.policy.features_extractor
    space = model.observation_space
    L, v = spec.steps_per_episode, world.observed_size
    sums = {when: dict.fromkeys(PARTS, 0.0) for when in ("first", "all")}
    shares = dict.fromkeys(PARTS[1:], 0.0)
    counts = {"first": 0, "all": 0}
    tv_sum, tv_control, tv_n, success = 0.0, 0.0, 0, 0
    for i in range(n_tasks):
        env = make_env(world, "latent")
        obs, info = env.reset(seed=(1000 + seed) * 100_003 + i)
        goal = int(info["goal_type"])
        query = RetrievalQuery(
            maze=int(info["maze"]), goal=goal, seen=np.asarray(info["seen_objects"], dtype=bool)
        )
        ids = retriever.retrieve_ids(query, k=spec.k, rng=rng)
        relevant_ids = set(memory.relevant_ids(query.maze, goal, query.placement).tolist())
        episodes = memory.episodes(ids)
        mem = encode_episodes(episodes, spec.k, L, v, spec.trim, goal, positions=world.position_cue)
        kind = np.full((spec.k, L), "", dtype=object)
        for j, episode_id in enumerate(ids.tolist()):
            shows_goal = (mem["mem_views"][j] == OBJECT_BASE + goal).any(axis=(1, 2))
            if episode_id in relevant_ids:
                kind[j] = np.where(shows_goal, "relevant_goal", "relevant_other")
            else:
                kind[j] = "distractor"
        valid = mem["mem_mask"].astype(bool)
        kinds = kind[valid]
        for part in shares:
            shares[part] += float((kinds == part).mean()) if len(kinds) else 0.0
        # the same observation with the relevant episode's steps masked (for the TV distance)
        masked = {key: value.copy() for key, value in mem.items()}
        rel_rows = np.isin(kind, ("relevant_goal", "relevant_other"))
        masked["mem_mask"][rel_rows] = 0
        # the control: the same with one distractor episode masked instead
        control = {key: value.copy() for key, value in mem.items()}
        dis_eps = [j for j in range(len(ids)) if kind[j, 0] == "distractor"]
        if dis_eps:
            control["mem_mask"][dis_eps[0]] = 0
        flat_kind = kind.reshape(-1)
        agent._memory_obs = {0: mem}
        agent._stepper = PolicyStepper(model, 1, agent.deterministic)
        step = 0
        while True:
            o = agent.observation(obs, mem)
            batch = {key: np.asarray(value)[None] for key, value in o.items()}
            tensor, _ = model.policy.obs_to_tensor(batch)
            with torch.no_grad():
                pre = preprocess_obs(tensor, space)
                w = extractor.attention_weights(pre)[0].numpy()
                if rel_rows.any() and dis_eps:
                    p1 = _probs(model, tensor)
                    p2 = _probs(model, model.policy.obs_to_tensor(_batch(agent, obs, masked))[0])
                    p3 = _probs(model, model.policy.obs_to_tensor(_batch(agent, obs, control))[0])
                    tv_sum += 0.5 * float(np.abs(p1 - p2).sum())
                    tv_control += 0.5 * float(np.abs(p1 - p3).sum())
                    tv_n += 1
            mass = {"null": float(w[0])}
            for part in PARTS[1:]:
                mass[part] = float(w[1:][flat_kind == part].sum())
            for when in ("first", "all") if step == 0 else ("all",):
                for part in PARTS:
                    sums[when][part] += mass[part]
                counts[when] += 1
            action = int(agent.act_batch([0], [obs], [info])[0])
            obs, _, terminated, truncated, info = env.step(action)
            step += 1
            if terminated or truncated:
                success += int(bool(info["is_success"]))
                break
    return {
        "n_tasks": n_tasks,
        "success": success / n_tasks,
        "attention_first_step": {p: sums["first"][p] / counts["first"] for p in PARTS},
        "attention_all_steps": {p: sums["all"][p] / counts["all"] for p in PARTS},
        "slot_share": {p: shares[p] / n_tasks for p in shares},
        "tv_relevant_masked": tv_sum / max(tv_n, 1),
        "tv_one_distractor_masked": tv_control / max(tv_n, 1),
        "steps": counts["all"],
    }


def _batch(agent: PPOAgent, obs: dict[str, Any], mem: dict[str, np.ndarray]) -> dict[str, Any]:
    return {key: np.asarray(value)[None] for key, value in agent.observation(obs, mem).items()}


def _probs(model: Any, tensor: Any) -> np.ndarray:
    return np.asarray(model.policy.get_distribution(tensor).distribution.probs[0].numpy())


def main(argv: Sequence[str] | None = None) -> None:
    """Print the attention report of one oracle run (and write ``<run>/attention.json``)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    report = attention_report(args.run, args.tasks, args.seed)
    (args.run / "attention.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
