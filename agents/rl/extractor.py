"""``RetrievalExtractor``: an SB3 features extractor that attends over retrieved episode steps.

Three parts, one network for both agents of a pair:

1. **View encoder.** The current RGB view goes through a tile-aligned convolution (kernel =
   stride = tile size, so each output cell sees exactly one maze cell), then a 3x3 convolution
   and a linear layer. Retrieved steps arrive as cell codes; their first layer is *the same
   convolution applied to the tile atlas* (the sprite of every code), gathered by code. That is
   exactly what rendering them to pixels and running the convolution would give, at a fraction
   of the cost, and the rest of the encoder is shared: current and retrieved views live in one
   embedding space.
2. **Goal embedding** (the goal arrives one-hot from SB3's preprocessing), and with
   ``maze_cue=True`` a maze embedding of the env's maze cue (``obs["maze"]``, v1): from the hub
   room, which looks the same in every maze, only the cue tells a memoryless agent which arm
   holds an explicit goal.
3. **Attention** from the current state (view + goal) over the ``k * L`` retrieved steps (view
   + action + goal + step-slot embeddings), with a learned always-valid "nothing retrieved"
   slot, so an all-masked observation (``mode="none"``) gives a well-defined, constant read.
4. **Positions**, in worlds with the position cue (an observation with ``position`` and
   ``mem_positions``; read whenever the space has them): one row and one column embedding,
   shared by the agent's own cell (added to the query and the output) and the cell of every
   retrieved step (added to its key), so "where that step was" and "where I am" live in one
   space (ours; the BC agents' object-location tokens play this part there).

The output is ``[view, goal, read]`` (``[view, goal, maze, read]`` with the cue, then the
position embedding with the position cue) through a linear layer and ReLU.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from agents.rl.wrapper import END_ACTION, MEMORY_KEYS, POSITION_KEY
from latent_gridworld.encoders.pixels import tile_atlas


class RetrievalExtractor(BaseFeaturesExtractor):
    """Features for ``MultiInputPolicy`` from ``image``, ``goal`` and the ``mem_*`` keys.

    Args:
        observation_space: The :class:`~agents.rl.wrapper.RetrievalObservation` Dict space
            (SB3 may have transposed ``image`` to channel-first; both layouts are accepted).
        features_dim: Output size.
        d_model: Width of view embeddings and attention.
        n_heads: Attention heads.
        conv_channels: Channels of the tile convolution and of the 3x3 convolution.
        maze_cue: Embed the ``maze`` observation key (``Discrete``) and add it to the output.
            Off by default so that checkpoints saved before it reload unchanged; the training
            script turns it on for worlds with the cue (``TrainConfig.maze_input``).
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        features_dim: int = 128,
        d_model: int = 64,
        n_heads: int = 2,
        conv_channels: tuple[int, int] = (16, 16),
        maze_cue: bool = False,
    ) -> None:
        super().__init__(observation_space, features_dim)
        missing = {"image", "goal", *MEMORY_KEYS} - set(observation_space.spaces)
        if missing:
            raise ValueError(
                f"RetrievalExtractor needs observation keys {sorted(missing)}: wrap a pixel env "
                "(obs_mode='pixel') in agents.rl.RetrievalObservation"
            )
        image = observation_space["image"]
        assert image.shape is not None
        n_steps = int(np.prod(observation_space["mem_mask"].shape or (0,)))
        cells = int(np.prod(observation_space["mem_views"].shape or (0,))) // max(n_steps, 1)
        v = int(round(cells**0.5))
        if n_steps < 1 or v * v != cells:
            raise ValueError("mem_views must hold k * L square views of k * L mem_mask slots")
        self.n_steps, self.view = n_steps, v
        # channel-last (H, W, 3) from the env, channel-first (3, H, W) after VecTransposeImage
        side = image.shape[0] if image.shape[-1] == 3 else image.shape[1]
        if side % v != 0:
            raise ValueError(f"image side {side} is not a multiple of the view size {v}")
        self.tile = side // v
        self.channel_last = image.shape[-1] == 3 and image.shape[0] != 3
        goal_space = observation_space["goal"]
        if not isinstance(goal_space, spaces.Discrete):
            raise ValueError("the 'goal' observation must be Discrete(n_object_types)")
        n_goals = int(goal_space.n)
        self.maze_cue = maze_cue
        if maze_cue:
            maze_space = observation_space.spaces.get("maze")
            if not isinstance(maze_space, spaces.Discrete):
                raise ValueError(
                    "maze_cue=True needs a Discrete 'maze' observation (an env with "
                    "maze_cue=True, e.g. LatentGridworld/Pixel-v1); this env has none"
                )
            self.maze_embed = nn.Linear(int(maze_space.n), d_model)
        position_space = observation_space.spaces.get("position")
        self.positions = position_space is not None and POSITION_KEY in observation_space.spaces
        if self.positions:
            if not isinstance(position_space, spaces.MultiDiscrete):
                raise ValueError("the 'position' observation must be MultiDiscrete([H, W])")
            self.rows, cols = (int(n) for n in position_space.nvec)
            self.row_embed = nn.Embedding(self.rows, d_model)
            self.col_embed = nn.Embedding(cols, d_model)
        c1, c2 = conv_channels
        self.tile_conv = nn.Conv2d(3, c1, kernel_size=self.tile, stride=self.tile)
        self.trunk = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c1, c2, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c2 * v * v, d_model),
            nn.ReLU(),
        )
        # the tile atlas as a fixed buffer, normalised like SB3 normalises images
        atlas = tile_atlas(self.tile).astype(np.float32) / 255.0  # (codes, t, t, 3)
        self.register_buffer("atlas", torch.from_numpy(atlas).permute(0, 3, 1, 2).contiguous())
        self.goal_embed = nn.Linear(n_goals, d_model)
        self.mem_action = nn.Embedding(END_ACTION + 1, d_model)
        self.mem_goal = nn.Embedding(n_goals, d_model)
        self.mem_slot = nn.Parameter(torch.zeros(n_steps, d_model))
        self.null_key = nn.Parameter(torch.zeros(1, 1, d_model))
        query_parts = 3 if self.positions else 2
        self.query = nn.Sequential(nn.Linear(query_parts * d_model, d_model), nn.ReLU())
        self.attention = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        parts = 3 + int(maze_cue) + int(self.positions)
        self.out = nn.Sequential(nn.Linear(parts * d_model, features_dim), nn.ReLU())
        nn.init.normal_(self.mem_slot, std=0.02)
        nn.init.normal_(self.null_key, std=0.02)

    def encode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """``(N, V, V)`` cell codes to ``(N, d_model)``, as if rendered to pixels first."""
        table = self.tile_conv(self.atlas).flatten(1)  # (codes, c1): one sprite per code
        first = table[codes.long()].permute(0, 3, 1, 2)  # (N, c1, V, V)
        return torch.as_tensor(self.trunk(first))

    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` or ``(B, H, W, 3)`` float image in [0, 1] to ``(B, d_model)``."""
        if self.channel_last:
            image = image.permute(0, 3, 1, 2)
        return torch.as_tensor(self.trunk(self.tile_conv(image)))

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:  # noqa: D102
        view, goal, read, _ = self._parts(observations)
        parts = [view, goal, read]
        if self.maze_cue:
            maze = observations["maze"].float().reshape(view.shape[0], -1)  # one-hot, as goal
            parts.insert(2, self.maze_embed(maze))
        if self.positions:
            parts.append(self.own_position(observations))
        return torch.as_tensor(self.out(torch.cat(parts, dim=-1)))

    def own_position(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(B, d_model)`` embedding of the agent's cell (SB3 one-hot encodes the row, col)."""
        width = self.rows + self.col_embed.num_embeddings
        onehot = observations["position"].float().reshape(-1, width)
        row, col = onehot[:, : self.rows], onehot[:, self.rows :]
        return row @ self.row_embed.weight + col @ self.col_embed.weight

    def attention_weights(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        """``(B, 1 + k * L)`` attention of the current state over [null slot, retrieved steps].

        Averaged over heads; masked slots get 0. A diagnostic: it shows where the policy reads.
        """
        return self._parts(observations, weights=True)[3]

    def _parts(
        self, observations: dict[str, torch.Tensor], weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        view = self.encode_image(observations["image"])
        batch = view.shape[0]
        # SB3 one-hot encodes Discrete keys; the rollout buffer adds a singleton axis
        goal = self.goal_embed(observations["goal"].float().reshape(batch, -1))
        state = [view, goal, self.own_position(observations)] if self.positions else [view, goal]
        q = self.query(torch.cat(state, dim=-1)).unsqueeze(1)
        valid = observations["mem_mask"].reshape(batch, -1) > 0.5
        null = self.null_key.expand(batch, -1, -1)
        if not bool(valid.any()) and not weights:
            # nothing retrieved in the whole batch (the baseline): every query reads the null
            # slot alone, exactly what attending over it plus masked steps gives; skip encoding
            read, _ = self.attention(q, null, null, need_weights=False)
            return view, goal, read.squeeze(1), torch.zeros(0)
        codes = observations["mem_views"].reshape(-1, self.view, self.view)
        steps = self.encode_codes(codes).reshape(batch, self.n_steps, -1)
        actions = observations["mem_actions"].reshape(batch, -1).long()
        goals = observations["mem_goals"].reshape(batch, -1).long()
        steps = steps + self.mem_action(actions) + self.mem_goal(goals) + self.mem_slot
        if self.positions:
            cells = observations[POSITION_KEY].reshape(batch, -1, 2).long()
            steps = steps + self.row_embed(cells[..., 0]) + self.col_embed(cells[..., 1])
        keys = torch.cat([null, steps], dim=1)
        pad = torch.cat([torch.zeros_like(valid[:, :1]), ~valid], dim=1)  # null slot never masked
        read, attn = self.attention(
            q, keys, keys, key_padding_mask=pad, need_weights=weights, average_attn_weights=True
        )
        attn_out = attn.squeeze(1) if attn is not None else torch.zeros(0)
        return view, goal, read.squeeze(1), attn_out


def policy_kwargs(**extractor_kwargs: Any) -> dict[str, Any]:
    """``policy_kwargs`` for ``PPO("MultiInputPolicy", ...)`` with :class:`RetrievalExtractor`."""
    return {
        "features_extractor_class": RetrievalExtractor,
        "features_extractor_kwargs": extractor_kwargs,
        "net_arch": {"pi": [64], "vf": [64]},
    }
