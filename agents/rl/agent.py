"""A trained PPO agent behind the benchmark's agent protocol (:mod:`agents.protocol`).

The protocol hands agents the ASCII env's observations. :class:`PPOAgent` turns each one into
what the PPO policy was trained on: the ASCII view becomes cell codes, then pixels through the
same tile atlas as the pixel env (the image is identical). The retrieved episodes come from the
run's memory and are encoded as the wrapper does. So the PPO pair is evaluated by the very code
that evaluates the BC pair (:func:`agents.evaluation.evaluate_agent`: same tasks, same step
budget the env enforces).

Evaluate finished runs with it::

    python -m agents.rl.agent runs/rl --tasks 300        # writes <run>/protocol.json

or plug one into the benchmark command (the run folder in an environment variable)::

    export LATENT_GRIDWORLD_PPO_RUN=runs/rl/oracle_s0
    latent-gridworld benchmark --agent agents.rl.agent:make_agent

(the benchmark's world must then be the run's world; a mismatch is a clear error).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.memory import EpisodicMemory, RetrievalQuery, make_retriever
from agents.protocol import AgentContext
from agents.rl.evaluate import EVAL_SPLITS, EnvSpec, PolicyStepper
from agents.rl.runs import load_run
from agents.rl.wrapper import encode_episodes
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.constants import ASCII_TO_CODE
from latent_gridworld.encoders.pixels import codes_to_image

# fields that may differ between the training world and the evaluation world
_FREE_FIELDS = {"split", "icl_share", "max_steps", "step_penalty", "n_new_mazes"}


class PPOAgent:
    """A PPO policy from :mod:`agents.rl.train` acting on ASCII observations (a BatchAgent).

    Args:
        model: The SB3 model.
        spec: The run's env spec (world, tile size, retrieval settings).
        memory: Memory to retrieve from (``None`` for a ``none`` run).
        n_relevant: Override of the oracle's relevant episodes (0: distractor-only control).
        n_distractors: Override of the oracle's distractors.
        seed: Seed of the retrieval and action sampling.
        deterministic: Greedy actions instead of sampling.
    """

    def __init__(
        self,
        model: Any,
        spec: EnvSpec,
        memory: EpisodicMemory | None,
        *,
        n_relevant: int | None = None,
        n_distractors: int | None = None,
        seed: int = 0,
        deterministic: bool = False,
    ) -> None:
        if spec.mode == "knn":
            raise ValueError(
                "PPOAgent supports retrieval 'oracle' and 'none' (knn needs the episode so far, "
                "which the protocol does not record); evaluate knn runs with "
                "agents.rl.evaluate.evaluate"
            )
        self.model = model
        self.spec = spec
        self.world = spec.world_config()
        self.view_size = self.world.observed_size
        self.retriever = (
            make_retriever(
                "oracle",
                memory,
                n_relevant=spec.n_relevant if n_relevant is None else n_relevant,
                n_distractors=spec.n_distractors if n_distractors is None else n_distractors,
            )
            if spec.mode == "oracle"
            else None
        )
        self.rng = np.random.default_rng(seed)
        self.deterministic = deterministic
        self._memory_obs: dict[int, dict[str, np.ndarray]] = {}
        self._stepper: PolicyStepper | None = None
        import torch

        torch.manual_seed(seed)

    def check_world(self, world: WorldConfig) -> None:
        """Raise ``ValueError`` unless ``world`` is the world the policy was trained in."""
        diff = {
            f: (getattr(self.world, f), getattr(world, f))
            for f in WorldConfig.__dataclass_fields__
            if f not in _FREE_FIELDS and getattr(self.world, f) != getattr(world, f)
        }
        if diff:
            shown = ", ".join(
                f"{f}: trained {a!r} vs evaluated {b!r}" for f, (a, b) in diff.items()
            )
            raise ValueError(f"the PPO agent was trained in another world ({shown})")

    def reset_batch(
        self, observations: Sequence[dict[str, Any]], infos: Sequence[dict[str, Any]]
    ) -> None:
        """Retrieve for every slot's task."""
        self._memory_obs = {slot: self._retrieve(info) for slot, info in enumerate(infos)}
        self._stepper = PolicyStepper(self.model, len(infos), self.deterministic)

    def act_batch(
        self,
        slots: Sequence[int],
        observations: Sequence[dict[str, Any]],
        infos: Sequence[dict[str, Any]],
    ) -> np.ndarray:
        """Actions for the running ``slots``."""
        batch = [self.observation(o, self._memory_obs[s]) for s, o in zip(slots, observations)]
        stacked = {key: np.stack([b[key] for b in batch]) for key in batch[0]}
        assert self._stepper is not None, "call reset_batch() first"
        return self._stepper.act(list(slots), stacked)

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        """One-episode form of :meth:`reset_batch`."""
        self.reset_batch([obs], [info])

    def act(self, obs: dict[str, Any], info: dict[str, Any]) -> int:
        """One-episode form of :meth:`act_batch`."""
        return int(self.act_batch([0], [obs], [info])[0])

    def observation(self, obs: dict[str, Any], memory_obs: dict[str, np.ndarray]) -> dict[str, Any]:
        """The pixel-env observation (plus ``mem_*`` keys) for an ASCII-env observation."""
        v = self.view_size
        codes = ASCII_TO_CODE[np.asarray(obs["view"], dtype=np.uint8)].reshape(v, v)
        out: dict[str, Any] = {
            "image": codes_to_image(codes, self.spec.resolved_tile_size),
            "goal": np.int64(obs["goal"]),
        }
        if "maze" in obs:  # the maze cue (v1): the pixel env of the same world shows it too
            out["maze"] = np.int64(obs["maze"])
        if "position" in obs:  # the position cue, where the world has it
            out["position"] = np.asarray(obs["position"], dtype=np.int64).copy()
        out.update({key: value.ravel() for key, value in memory_obs.items()})
        return out

    def _retrieve(self, info: dict[str, Any]) -> dict[str, np.ndarray]:
        spec = self.spec
        episodes = []
        if self.retriever is not None and self.retriever.memory is not None:
            query = RetrievalQuery(
                maze=int(info["maze"]),
                goal=int(info["goal_type"]),
                seen=np.asarray(info["seen_objects"], dtype=bool),
            )
            episodes = self.retriever.retrieve(query, k=spec.k, rng=self.rng)
        return encode_episodes(
            episodes,
            spec.k,
            spec.steps_per_episode,
            self.view_size,
            spec.trim,
            int(info["goal_type"]),
            positions=self.world.position_cue,
        )


def make_agent(context: AgentContext) -> PPOAgent:
    """Benchmark factory: the run in ``$LATENT_GRIDWORLD_PPO_RUN``, checked against the world.

    Raises:
        ValueError: The variable is unset, or the run was trained in another world.
    """
    run = os.environ.get("LATENT_GRIDWORLD_PPO_RUN")
    if not run:
        raise ValueError(
            "set LATENT_GRIDWORLD_PPO_RUN to a run folder of agents.rl.train "
            "(e.g. runs/rl/oracle_s0) to benchmark a PPO agent"
        )
    model, spec, memory = load_run(run)
    agent = PPOAgent(model, spec, memory, seed=context.seed)
    agent.check_world(context.world)
    return agent


def evaluate_run(run: str | Path, n_tasks: int, seed: int = 0) -> dict[str, Any]:
    """Protocol evaluation of one run on every split (+ the distractor-only control)."""
    from agents.evaluation import evaluate_agent

    model, spec, memory = load_run(run)
    world = spec.world_config()
    agents = {"agent": PPOAgent(model, spec, memory, seed=seed)}
    if spec.mode == "oracle":
        agents["distractors_only"] = PPOAgent(
            model, spec, memory, n_relevant=0, n_distractors=spec.k, seed=seed
        )
    out: dict[str, Any] = {"n_tasks": n_tasks, "seed": seed, "budget": "the env's own"}
    for name, agent in agents.items():
        splits = EVAL_SPLITS if name == "agent" else ("latent",)
        for split in splits:
            r = evaluate_agent(agent, world, split, n_tasks, seed=1000 + seed)
            key = split if name == "agent" else f"{split}_distractors_only"
            nontrivial = ~r.trivial
            out[key] = {
                "success": float(r.success.mean()),
                "efficiency": float(r.efficiency.mean()),
                "n": float(len(r.success)),
                "trivial_share": float(r.trivial.mean()),
                "success_nontrivial": float(r.success[nontrivial].mean())
                if nontrivial.any()
                else float("nan"),
            }
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Evaluate every finished run under a folder; writes ``<run>/protocol.json``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("root", type=Path, help="folder of run folders (or one run folder)")
    parser.add_argument("--tasks", type=int, default=300, help="tasks per split")
    parser.add_argument("--seed", type=int, default=0, help="task seed (1000 + seed)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    runs = [args.root] if (args.root / "model.zip").exists() else sorted(args.root.glob("*/"))
    for run in runs:
        if not (run / "results.json").exists():
            continue
        result = evaluate_run(run, args.tasks, args.seed)
        (run / "protocol.json").write_text(json.dumps(result, indent=2))
        print(run.name, {s: round(result[s]["success"], 3) for s in EVAL_SPLITS})


if __name__ == "__main__":
    main()
