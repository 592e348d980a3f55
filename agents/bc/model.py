"""The policy: a small causal transformer over step rows of ASCII tokens.

Each step row (the tokenizer ids of one step: view cells, goal, action, cues) becomes one
vector: every token is embedded, a learned per-slot vector is added (a cell's place in the
view), and an MLP maps the concatenation to ``d_model``. A causal transformer then reads the
sequence of step vectors (retrieved steps first, then the current episode) and predicts the
expert's action at each current step. One vector per step keeps a 13x13 episode plus three
retrieved episodes under ~130 positions, cheap enough for one CPU thread.

The baseline and the retrieval agent are this same module with the same parameters; the only
difference is whether memory rows are in the input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from latent_gridworld.core.constants import N_ACTIONS


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of :class:`BCTransformer` (stored in checkpoints).

    Attributes:
        vocab_size: Tokenizer vocabulary size.
        step_len: Tokens per step row.
        d_token: Embedding width of one token.
        d_model: Transformer width.
        n_layers: Transformer layers.
        n_heads: Attention heads.
        max_time: Largest step index within a segment (+1); longer episodes slide a window.
        max_segments: Retrieved episodes the segment table has room for, plus one.
        aux_size: With ``> 0``, a head that predicts the goal's (row, col) (each one of
            ``aux_size`` classes) at every step: the auxiliary "where is the goal" loss.
        goal_conditioned: The action head also reads a target cell: the goal head's own
            (detached) row and column distributions, or in training, for a share of steps,
            the true goal cell (teacher forcing). The policy then acts on where it believes
            the goal is: "where" (goal head) and "how to get there" (action head) are split
            (ours; needs ``aux_size``).
        navigator: Split the policy in two (ours; needs ``aux_size``): the transformer above
            is a *locator* that only feeds the goal head; a second causal transformer, the
            *navigator*, reads the same rows with the goal letter hidden plus the target cell
            (belief or, in training, teacher-forced truth, as with ``goal_conditioned``) added
            to every current step, and the action head reads it. The navigator cannot know
            what the goal is, only where it is believed to be.
        goal_slot: Index of the goal letter in a step row (filled in; used by ``navigator``).
    """

    vocab_size: int
    step_len: int
    d_token: int = 8
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    max_time: int = 128
    max_segments: int = 9
    aux_size: int = 0
    goal_conditioned: bool = False
    navigator: bool = False
    goal_slot: int = -1

    def to_dict(self) -> dict[str, int]:
        """Plain dict for checkpoints."""
        return asdict(self)


class BCTransformer(nn.Module):
    """Step encoder + causal transformer + action head."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = c = config
        self.token = nn.Embedding(c.vocab_size, c.d_token)
        self.slot = nn.Parameter(torch.zeros(c.step_len, c.d_token))
        self.step_mlp = nn.Sequential(
            nn.Linear(c.step_len * c.d_token, 2 * c.d_model),
            nn.GELU(),
            nn.Linear(2 * c.d_model, c.d_model),
        )
        self.time = nn.Embedding(c.max_time, c.d_model)
        self.segment = nn.Embedding(c.max_segments, c.d_model)
        layer = nn.TransformerEncoderLayer(
            c.d_model,
            c.n_heads,
            4 * c.d_model,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.transformer = nn.TransformerEncoder(layer, c.n_layers, enable_nested_tensor=False)
        self.navigator: nn.Module | None = None
        if c.navigator:
            if not c.aux_size or not 0 <= c.goal_slot < c.step_len:
                raise ValueError("navigator needs the goal head (aux_size > 0) and goal_slot")
            if c.goal_conditioned:
                raise ValueError("choose one of navigator and goal_conditioned")
            self.navigator = nn.TransformerEncoder(layer, c.n_layers, enable_nested_tensor=False)
        self.goal_head = (
            nn.Sequential(nn.LayerNorm(c.d_model), nn.Linear(c.d_model, 2 * c.aux_size))
            if c.aux_size
            else None
        )
        if c.goal_conditioned and not c.aux_size:
            raise ValueError("goal_conditioned needs the goal head (aux_size > 0)")
        self.target_embed: nn.Module | None = (
            nn.Linear(2 * c.aux_size, c.d_model) if c.navigator or c.goal_conditioned else None
        )
        if c.goal_conditioned:  # the head itself must combine state and target
            self.head = nn.Sequential(
                nn.LayerNorm(c.d_model),
                nn.Linear(c.d_model, 2 * c.d_model),
                nn.GELU(),
                nn.Linear(2 * c.d_model, N_ACTIONS),
            )
        else:
            self.head = nn.Sequential(nn.LayerNorm(c.d_model), nn.Linear(c.d_model, N_ACTIONS))
        nn.init.normal_(self.slot, std=0.02)

    def forward(
        self,
        rows: torch.Tensor,
        segment: torch.Tensor,
        time: torch.Tensor,
        pad: torch.Tensor,
        goal_cells: torch.Tensor | None = None,
        teacher_forcing: float = 0.0,
        told_cells: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Action logits ``(B, N, 4)`` for every position of ``rows`` ``(B, N, L)``.

        ``pad`` ``(B, N)`` is True on padding rows (right padding only: causal attention then
        never lets a real row read a padded one). With ``goal_conditioned``, ``goal_cells``
        ``(B, N, 2)`` (``-100``: unknown) and ``teacher_forcing`` (a probability per row) give
        the action head the true goal cell instead of the goal head's belief (training only),
        and ``told_cells`` ``(B, N, 2)`` (``-100``: none) a cell it is always given instead
        ("go to this cell" samples).
        """
        n = rows.shape[1]
        causal = torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
        # right padding + causal mask: no real row attends to a pad row, so no key mask is
        # needed (and none means no all-masked rows, which would give NaNs)
        del pad
        x = self.transformer(self._steps(rows, segment, time), mask=causal, is_causal=True)
        self.last_hidden = x  # read by the auxiliary goal loss in training
        if self.target_embed is None:
            return self.head(x)
        target = self._target(x, goal_cells, teacher_forcing, told_cells)
        if self.navigator is not None:
            current = (segment == 0).unsqueeze(-1).to(target.dtype)
            nav = self._steps(rows, segment, time, hide_goal=True)
            nav = nav + current * self.target_embed(target)
            return self.head(self.navigator(nav, mask=causal, is_causal=True))
        return self.head(x + self.target_embed(target))

    def _steps(
        self,
        rows: torch.Tensor,
        segment: torch.Tensor,
        time: torch.Tensor,
        hide_goal: bool = False,
    ) -> torch.Tensor:
        """One vector per step row ``(B, N, d_model)``."""
        b, n, length = rows.shape
        tokens = self.token(rows)  # (B, N, L, d_token)
        if hide_goal:
            keep = torch.ones(length, 1)
            keep[self.config.goal_slot] = 0.0
            tokens = tokens * keep
        x = self.step_mlp((tokens + self.slot).reshape(b, n, length * self.config.d_token))
        time = time.clamp(max=self.config.max_time - 1)
        return x + self.time(time) + self.segment(segment)

    def _target(
        self,
        hidden: torch.Tensor,
        goal_cells: torch.Tensor | None,
        teacher_forcing: float,
        told_cells: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Row and column distributions of the target cell ``(B, N, 2 * aux_size)``."""
        row_logits, col_logits = self.goal_logits(hidden)
        # detached: the action loss must not teach the goal head to say what is easy to act on
        target = torch.cat([row_logits.softmax(-1), col_logits.softmax(-1)], -1).detach()
        if goal_cells is not None and teacher_forcing > 0:
            known = goal_cells[..., 0] >= 0
            forced = known & (torch.rand(known.shape) < teacher_forcing)
            target = torch.where(forced[..., None], self._one_hot(goal_cells, target), target)
        if told_cells is not None:
            told = told_cells[..., 0] >= 0
            target = torch.where(told[..., None], self._one_hot(told_cells, target), target)
        return target

    def _one_hot(self, cells: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``(B, N, 2 * aux_size)`` one-hot row and column of ``cells`` (read only where known)."""
        size = self.config.aux_size
        rows, cols = (F.one_hot(cells[..., i].clamp(min=0), size) for i in (0, 1))
        return torch.cat([rows, cols], -1).to(like.dtype)

    def goal_logits(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Row and column logits ``(B, N, aux_size)`` of the goal cell (needs ``aux_size``)."""
        if self.goal_head is None:
            raise RuntimeError("this model has no goal head (aux_size is 0)")
        out = self.goal_head(hidden)
        return out[..., : self.config.aux_size], out[..., self.config.aux_size :]
