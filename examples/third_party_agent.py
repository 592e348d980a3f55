"""A third-party agent for ``latent-gridworld benchmark``: no training, reads the memory.

It implements the two-method protocol of ``agents/protocol.py``. At the start of an episode it
asks the episodic memory (oracle retrieval) for past episodes in this maze, looks for a step
in which the goal letter was in view, and computes the goal's cell from that step's position
and the letter's place in the view. It then walks greedily towards that cell, reading walls
from its own view, with random moves when blocked. Without a memory, or when no retrieved
episode saw the goal, it walks randomly until the goal is in view.

    latent-gridworld benchmark --preset demo --agent examples/third_party_agent.py:make_agent

After ``make demo`` this evaluates only this agent's rows (the others are reused from
``runs/benchmark-demo/eval_s0.json``) and writes ``results-1.{json,txt,png}`` beside the demo's
results, which it leaves as they are.

It uses ``info["maze"]`` (for the oracle query) and ``info["position"]``: privileged
information, as the oracle retrieval itself is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.protocol import AgentContext
from latent_gridworld.core.constants import ACTION_DELTAS, OBJECT_BASE, OBJECT_LETTERS, WALL_CHAR


class MemoryGreedyAgent:
    """Greedy walker towards where the memory says the goal is."""

    def __init__(self, context: AgentContext) -> None:
        self.world = context.world
        self.rng = np.random.default_rng(context.seed)
        self.retriever = None
        if context.memory is not None:
            from agents.memory import make_retriever

            self.retriever = make_retriever("oracle", context.memory, n_relevant=1, n_distractors=0)
        self.target: tuple[int, int] | None = None

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        self.target = None
        if self.retriever is None:
            return
        from agents.memory import RetrievalQuery

        goal = int(info["goal_type"])
        for episode in self.retriever.retrieve(
            RetrievalQuery(maze=int(info["maze"]), goal=goal), k=1, rng=self.rng
        ):
            steps = np.flatnonzero(episode.visible[:, goal])
            if len(steps):
                self.target = self._locate(
                    episode.views[steps[0]], episode.positions[steps[0]], goal
                )
                return

    def _locate(self, view: np.ndarray, position: np.ndarray, goal: int) -> tuple[int, int]:
        """The maze cell of object ``goal`` seen in ``view`` (cell codes) from ``position``."""
        r, c = np.argwhere(view == OBJECT_BASE + goal)[0]
        if self.world.full_view:
            return int(r), int(c)
        half = view.shape[0] // 2
        return int(position[0]) + int(r) - half, int(position[1]) + int(c) - half

    def act(self, obs: dict[str, Any], info: dict[str, Any]) -> int:
        side = int(round(len(obs["view"]) ** 0.5))
        view = np.asarray(obs["view"]).reshape(side, side)
        here = (int(info["position"][0]), int(info["position"][1]))
        # view cell (i, j) is maze cell (i, j) + origin: agent-centred, or the whole maze
        half = side // 2
        origin = (0, 0) if self.world.full_view else (here[0] - half, here[1] - half)
        letter = ord(OBJECT_LETTERS[int(obs["goal"])])
        hits = np.argwhere(view == letter)
        if len(hits):  # the goal is in view: that beats any memory
            self.target = (origin[0] + int(hits[0][0]), origin[1] + int(hits[0][1]))
        me = (here[0] - origin[0], here[1] - origin[1])
        open_moves = [
            a
            for a, (dr, dc) in enumerate(ACTION_DELTAS)
            if view[me[0] + dr, me[1] + dc] != ord(WALL_CHAR)
        ]
        if self.target is not None:
            closer = [
                a
                for a in open_moves
                if abs(here[0] + ACTION_DELTAS[a][0] - self.target[0])
                + abs(here[1] + ACTION_DELTAS[a][1] - self.target[1])
                < abs(here[0] - self.target[0]) + abs(here[1] - self.target[1])
            ]
            if closer:
                return int(self.rng.choice(closer))
        return int(self.rng.choice(open_moves or [0, 1, 2, 3]))


def make_agent(context: AgentContext) -> MemoryGreedyAgent:
    """The factory the benchmark calls (``--agent examples/third_party_agent.py:make_agent``)."""
    return MemoryGreedyAgent(context)
