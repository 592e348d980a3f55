"""A trained BC transformer as an agent of the protocol (batched, greedy, deterministic).

``BCAgent(model, config, memory)`` is the retrieval agent when ``memory`` is an
:class:`~agents.memory.EpisodicMemory` and the baseline when it is None: the same code path,
with or without retrieved rows in front of the current episode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from agents.bc.batch import make_retriever, retrieve, to_tensors
from agents.bc.config import TrainConfig
from agents.bc.context import (
    TOKENIZER,
    build_context,
    collate,
    retrieved_blocks,
    step_rows,
)
from agents.bc.model import BCTransformer
from latent_gridworld.core.constants import SPLITS
from latent_gridworld.core.world import build_maze
from latent_gridworld.encoders.ascii import ascii_to_codes
from latent_gridworld.episode import Episode


def start_episode(obs: dict[str, Any], info: dict[str, Any]) -> Episode:
    """The episode so far at reset (one observation), as the retrieval query's history."""
    codes = ascii_to_codes(np.asarray(obs["view"]))
    side = int(round(len(codes) ** 0.5))
    return Episode(
        maze=int(info["maze"]),
        start=(int(info["start"][0]), int(info["start"][1])),
        split=SPLITS[int(info["split_id"])],
        views=codes.reshape(1, side, side),
        goals=np.array([int(info["goal_type"])], dtype=np.int8),
        positions=np.asarray(info["position"], dtype=np.int16)[None],
        visible=np.asarray(info["visible_objects"], dtype=bool)[None],
        actions=np.zeros(0, dtype=np.uint8),
        success=False,
        optimal_steps=int(info["optimal_steps"]),
    )


class BCAgent:
    """Acts with a :class:`BCTransformer`; queries ``memory`` at the start of each episode.

    Args:
        model: The trained model.
        config: Its training config (step format, retrieval settings).
        memory: Episodic memory (retrieval agent) or None (baseline).
        n_relevant: Override the oracle's relevant episodes per query (0 gives the
            distractor-only control; the total k stays the same).
        seed: Seed of the retriever's random draws.
        told_goal: Diagnostic (ours): give a policy with a target input (``navigator`` or
            ``goal_conditioned``) the goal's true cell at every step instead of its goal head's
            belief. Its success is then what it would reach if it always knew where the goal
            is: an upper bound for the action side alone.
    """

    def __init__(
        self,
        model: BCTransformer,
        config: TrainConfig,
        memory: Any | None,
        n_relevant: int | None = None,
        seed: int = 0,
        told_goal: bool = False,
    ) -> None:
        if told_goal and model.target_embed is None:
            raise ValueError(
                "told_goal needs a policy with a target input (navigator or goal_conditioned)"
            )
        self.told_goal = told_goal
        self.model = model.eval()
        self.config = config
        self.fmt = config.step_format()
        self.world = config.world_config()
        self.retriever = None
        if memory is not None:
            # the control keeps k fixed and swaps relevant episodes for distractors
            n_rel = config.n_relevant if n_relevant is None else n_relevant
            self.retriever = make_retriever(config, memory, n_rel, config.k - n_rel)
        self.rng = np.random.default_rng(seed)
        self._memory_blocks: list[list[np.ndarray]] = []
        self._rows: list[list[np.ndarray]] = []
        self._prev: list[int] = []
        self.first_beliefs: list[tuple[int, int] | None] = []

    # ------------------------------------------------------------------ single episode

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        """Protocol: a new episode (slot 0)."""
        self.reset_batch([obs], [info])

    def act(self, obs: dict[str, Any], info: dict[str, Any]) -> int:
        """Protocol: the greedy action in slot 0."""
        return int(self.act_batch([0], [obs], [info])[0])

    # ------------------------------------------------------------------ batched

    def reset_batch(
        self, observations: Sequence[dict[str, Any]], infos: Sequence[dict[str, Any]]
    ) -> None:
        """Start episodes in slots ``0..n-1``; retrieve their memory now."""
        n = len(observations)
        self._rows = [[] for _ in range(n)]
        self._prev = [-1] * n
        self._memory_blocks = [[] for _ in range(n)]
        # the goal head's (row, col) at each episode's first step: where the agent believes
        # the goal is before it has moved (read by agents.bc.probe.closed_loop_belief)
        self.first_beliefs = [None] * n
        if self.retriever is None:
            return
        for i, (obs, info) in enumerate(zip(observations, infos, strict=True)):
            goal = int(info["goal_type"])
            eps = retrieve(self.retriever, start_episode(obs, info), goal, self.config.k, self.rng)
            self._memory_blocks[i] = retrieved_blocks(
                self.fmt,
                eps,
                goal,
                self.config.memory_steps,
                self.world.n_mazes,
                self.config.memory_trim,
            )

    def _row(self, obs: dict[str, Any], prev: int) -> np.ndarray:
        codes = ascii_to_codes(np.asarray(obs["view"]))
        position = np.asarray(obs["position"])[None] if self.fmt.position_cue else None
        maze = int(obs["maze"]) if self.fmt.maze_cue else None
        return step_rows(
            self.fmt, codes[None], np.array([int(obs["goal"])]), np.array([prev]), position, maze
        )[0]

    @torch.no_grad()
    def act_batch(
        self,
        slots: Sequence[int],
        observations: Sequence[dict[str, Any]],
        infos: Sequence[dict[str, Any]],
    ) -> np.ndarray:
        """Greedy actions for ``slots``."""
        contexts = []
        for slot, obs, info in zip(slots, observations, infos, strict=True):
            self._rows[slot].append(self._row(obs, self._prev[slot]))
            current = np.stack(self._rows[slot])
            told = None
            if self.told_goal:
                told = np.tile(self._goal_cell(obs, info), (len(current), 1))
            contexts.append(
                build_context(
                    self.fmt,
                    current,
                    None,
                    self._memory_blocks[slot],
                    self.config.max_current,
                    told_cells=told,
                )
            )
        batch = to_tensors(collate(contexts, TOKENIZER.pad))
        # only each context's last row acts: the model computes its last layer there alone
        last = torch.as_tensor([len(c.segment) - 1 for c in contexts])
        need = torch.zeros_like(batch["pad"])
        need[torch.arange(len(contexts)), last] = True
        logits, hidden = self.model.packed(
            batch["rows"],
            batch["segment"],
            batch["time"],
            batch["pad"],
            need,
            told_cells=batch.get("told_cells"),
        )
        actions = logits.argmax(-1).numpy()
        if self.model.goal_head is not None and any(self.first_beliefs[i] is None for i in slots):
            rows, cols = self.model.goal_logits(hidden)
            belief = zip(rows.argmax(-1).tolist(), cols.argmax(-1).tolist())
            for slot, cell in zip(slots, belief, strict=True):
                if self.first_beliefs[slot] is None:
                    self.first_beliefs[slot] = cell
        for slot, a in zip(slots, actions, strict=True):
            self._prev[slot] = int(a)
        return actions

    def _goal_cell(self, obs: dict[str, Any], info: dict[str, Any]) -> np.ndarray:
        maze = build_maze(self.world, int(info["maze"]), int(info.get("placement", 0)))
        return maze.object_cells[maze.object_index(int(obs["goal"]))].astype(np.int64)
