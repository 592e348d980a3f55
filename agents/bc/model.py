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

from dataclasses import KW_ONLY, asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from latent_gridworld.core.constants import N_ACTIONS


@dataclass(frozen=True)
class ModelShape:
    """The architecture a training config chooses (:class:`ModelConfig` without what is filled in).

    Attributes:
        d_token: Embedding width of one token.
        d_model: Transformer width.
        n_layers: Transformer layers.
        n_heads: Attention heads.
        max_time: Largest step index within a segment (+1); longer episodes slide a window.
    """

    d_token: int = 8
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    max_time: int = 128


@dataclass(frozen=True)
class ModelConfig(ModelShape):
    """Architecture of :class:`BCTransformer` (stored in checkpoints): the shape, filled in.

    The fields below are filled in from the world and the training config (keyword-only).

    Attributes:
        vocab_size: Tokenizer vocabulary size.
        step_len: Tokens per step row.
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

    _: KW_ONLY
    vocab_size: int
    step_len: int
    max_segments: int = 9
    aux_size: int = 0
    goal_conditioned: bool = False
    navigator: bool = False
    goal_slot: int = -1

    def to_dict(self) -> dict[str, int]:
        """Plain dict for checkpoints."""
        return asdict(self)


ATTENTION_BUCKETS = 4  # samples sorted by length, padded per bucket: ~half the attention cost


@dataclass
class AttentionLayout:
    """Where the real rows of a right-padded ``(B, N)`` batch go in the packed computation.

    Samples are sorted by length (longest first) and their real rows packed in that order
    (``index``: flat ``B * N`` position of each packed row); attention runs per bucket of
    consecutive samples, each padded only to its own longest sample. ``keep`` marks the packed
    rows whose outputs are wanted; :meth:`row_major` puts such outputs back in the order
    ``tensor[need]`` lists them.
    """

    index: torch.Tensor
    keep: torch.Tensor
    order: torch.Tensor
    buckets: list[tuple[int, int, int, int, torch.Tensor]]

    @classmethod
    def of(cls, real: torch.Tensor, need: torch.Tensor) -> AttentionLayout:
        """The layout of a batch with ``real`` rows, of which ``need`` are wanted."""
        b, n = real.shape
        lengths = real.sum(1)
        by_length = torch.sort(lengths, descending=True, stable=True).indices
        sorted_lengths = lengths[by_length].tolist()
        steps = torch.arange(n)
        index = torch.cat([s * n + steps[:k] for s, k in zip(by_length.tolist(), sorted_lengths)])
        buckets = []
        start = 0
        size = -(-b // ATTENTION_BUCKETS)
        for first in range(0, b, size):
            group = sorted_lengths[first : first + size]
            longest = group[0]
            if longest == 0:  # only empty samples left: nothing to attend
                break
            local = torch.cat([j * longest + steps[:k] for j, k in enumerate(group)])
            buckets.append((start, start + len(local), len(group), longest, local))
            start += len(local)
        keep = need.reshape(-1)[index]
        order = torch.argsort(index[keep])
        return cls(index, keep, order, buckets)

    def row_major(self, kept: torch.Tensor) -> torch.Tensor:
        """``kept`` rows (packed order) in row-major batch order."""
        return kept.index_select(0, self.order)


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
        never lets a real row read a padded one; their logits are 0). With
        ``goal_conditioned``, ``goal_cells`` ``(B, N, 2)`` (``-100``: unknown) and
        ``teacher_forcing`` (a probability per row) give the action head the true goal cell
        instead of the goal head's belief (training only), and ``told_cells`` ``(B, N, 2)``
        (``-100``: none) a cell it is always given instead ("go to this cell" samples).
        """
        return self.forward_with_hidden(
            rows, segment, time, pad, goal_cells, teacher_forcing, told_cells
        )[0]

    def forward_with_hidden(
        self,
        rows: torch.Tensor,
        segment: torch.Tensor,
        time: torch.Tensor,
        pad: torch.Tensor,
        goal_cells: torch.Tensor | None = None,
        teacher_forcing: float = 0.0,
        told_cells: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`forward`'s logits and the locator's output ``(B, N, d_model)`` (0 on padding).

        The hidden rows are what :meth:`goal_logits` reads (the probes' "where is the goal").
        """
        need = ~pad
        logits, hidden = self.packed(
            rows, segment, time, pad, need, goal_cells, teacher_forcing, told_cells
        )
        b, n = pad.shape
        full_hidden = hidden.new_zeros(b, n, hidden.shape[-1]).index_put((need,), hidden)
        return logits.new_zeros(b, n, logits.shape[-1]).index_put((need,), logits), full_hidden

    def training_loss(
        self, batch: dict[str, torch.Tensor], teacher_forcing: float, aux_goal_weight: float
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The training loss of a collated batch, and the goal loss (sum of both coordinates).

        Cross-entropy of the expert's action at every current row, plus ``aux_goal_weight``
        times half the goal-cell cross-entropy (row and column) when the model has a goal
        head; rows with target ``-100`` carry no loss. Only the current rows are computed
        after the last layer (:meth:`packed`): the loss is the one over all rows of
        :meth:`forward`, for less work.
        """
        need = (batch["segment"] == 0) & ~batch["pad"]
        logits, hidden = self.packed(
            batch["rows"],
            batch["segment"],
            batch["time"],
            batch["pad"],
            need,
            batch.get("goal_cells"),
            teacher_forcing,
            batch.get("told_cells"),
        )
        loss = F.cross_entropy(logits, batch["targets"][need], ignore_index=-100)
        if aux_goal_weight <= 0:
            return loss, None
        row_logits, col_logits = self.goal_logits(hidden)
        cells = batch["goal_cells"][need]
        aux = F.cross_entropy(row_logits, cells[:, 0], ignore_index=-100) + F.cross_entropy(
            col_logits, cells[:, 1], ignore_index=-100
        )
        return loss + aux_goal_weight * aux / 2, aux

    def packed(
        self,
        rows: torch.Tensor,
        segment: torch.Tensor,
        time: torch.Tensor,
        pad: torch.Tensor,
        need: torch.Tensor,
        goal_cells: torch.Tensor | None = None,
        teacher_forcing: float = 0.0,
        told_cells: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Action logits ``(K, 4)`` and locator outputs ``(K, d_model)`` at the ``need`` rows.

        The same function as :meth:`forward`, computed the fast way (the training loop's):
        every per-row operation (step encoder, projections, feed-forward blocks, heads) runs
        on the real rows only, packed, and attention on the padded layout; the last layer's
        output projection and feed-forward block run only on the ``need`` rows (``(B, N)``
        bool, a subset of the real rows, e.g. the current episode's, which alone carry a
        loss). Rows come in row-major order, as ``tensor[need]`` lists them; ``goal_cells``
        and ``told_cells`` are ``(B, N, 2)`` as in :meth:`forward`.
        """
        b, n, length = rows.shape
        real = ~pad
        layout = AttentionLayout.of(real, need)
        index = layout.index
        flat_rows = rows.reshape(b * n, length).index_select(0, index)
        flat_segment = segment.reshape(-1).index_select(0, index)
        flat_time = time.reshape(-1).index_select(0, index)
        keep = layout.keep
        x = self._encode(self.transformer, self._steps(flat_rows, flat_segment, flat_time), layout)
        if self.target_embed is None:
            return layout.row_major(self.head(x)), layout.row_major(x)
        cells, told = (
            None if c is None else c.reshape(b * n, 2).index_select(0, index[keep])
            for c in (goal_cells, told_cells)
        )
        target = self._target(x, cells, teacher_forcing, told)
        if self.navigator is not None:
            current = (flat_segment[keep] == 0).unsqueeze(-1).to(target.dtype)
            nav = self._steps(flat_rows, flat_segment, flat_time, hide_goal=True)
            nav_target = nav.new_zeros(nav.shape).index_put(
                (keep,), current * self.target_embed(target)
            )
            out = self.head(self._encode(self.navigator, nav + nav_target, layout))
            return layout.row_major(out), layout.row_major(x)
        return layout.row_major(self.head(x + self.target_embed(target))), layout.row_major(x)

    def _encode(self, encoder: nn.Module, x: torch.Tensor, layout: AttentionLayout) -> torch.Tensor:
        """The causal pre-LN encoder on packed rows ``(M, d)``; returns the ``keep`` rows.

        Computes what ``nn.TransformerEncoder`` (norm_first, GELU, no dropout) computes with a
        causal mask, with its own weights, without the padding rows.
        """
        layers = list(encoder.layers)  # type: ignore[arg-type]
        for i, layer in enumerate(layers):
            x = self._layer(layer, x, layout, last=i == len(layers) - 1)
        return x

    def _layer(
        self,
        layer: nn.TransformerEncoderLayer,
        x: torch.Tensor,
        layout: AttentionLayout,
        last: bool,
    ) -> torch.Tensor:
        d, heads = self.config.d_model, self.config.n_heads
        attn = layer.self_attn
        h = F.layer_norm(x, (d,), layer.norm1.weight, layer.norm1.bias, layer.norm1.eps)
        qkv = F.linear(h, attn.in_proj_weight, attn.in_proj_bias)
        parts = []
        sizes = [len(local) for _, _, _, _, local in layout.buckets]
        chunks = qkv.split(sizes) if len(sizes) > 1 else (qkv,)  # split: its backward is a cat
        for chunk, (_, _, samples, length, local) in zip(chunks, layout.buckets, strict=True):
            # this bucket's samples, right-padded to its own longest (causal: padding is unseen)
            block = qkv.new_zeros(samples * length, 3 * d).index_copy(0, local, chunk)
            q, k, v = block.view(samples, length, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            parts.append(out.transpose(1, 2).reshape(samples * length, d).index_select(0, local))
        out = torch.cat(parts) if len(parts) > 1 else parts[0]
        if last:  # only the ``keep`` rows are read after the last layer
            x, out = x[layout.keep], out[layout.keep]
        x = x + F.linear(out, attn.out_proj.weight, attn.out_proj.bias)
        h = F.layer_norm(x, (d,), layer.norm2.weight, layer.norm2.bias, layer.norm2.eps)
        return x + layer.linear2(F.gelu(layer.linear1(h)))

    def _steps(
        self,
        rows: torch.Tensor,
        segment: torch.Tensor,
        time: torch.Tensor,
        hide_goal: bool = False,
    ) -> torch.Tensor:
        """One vector per step row: ``(M, L)`` rows to ``(M, d_model)``."""
        m, length = rows.shape
        # index_select, not an embedding: its backward (index_add) is ~2x faster on CPU
        tokens = self.token.weight.index_select(0, rows.reshape(-1)).view(m, length, -1)
        if hide_goal:
            keep = torch.ones(length, 1)
            keep[self.config.goal_slot] = 0.0
            tokens = tokens * keep
        x = self.step_mlp((tokens + self.slot).reshape(m, length * self.config.d_token))
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
