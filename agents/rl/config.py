"""The PPO training config: every knob of a run, its presets, the algorithm and the first memory.

Its own module so that evaluation, reports and the BC-protocol adapter read a run's config
without importing the training script (:mod:`agents.rl.train`, a leaf).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agents.memory import EpisodicMemory
from agents.rl.evaluate import EnvSpec, expert_memory
from agents.rl.wrapper import MODES

MEMORY_FILLS: tuple[str, ...] = ("prefill", "online", "both")
ALGOS: tuple[str, ...] = ("ppo", "recurrent_ppo")
VEC_ENVS: tuple[str, ...] = ("batched", "dummy")
# ``distance``: agents.rl.shaping.VecPotentialShaping (imported lazily: it imports SB3/torch)
SHAPINGS: tuple[str, ...] = ("none", "distance")

# Named starting points of a config; command-line flags override them. ``v1`` is the default
# world (``LatentGridworld/Pixel-v1``: radial-arm mazes, 3x3 view, the env's own step budget);
# ``v0-9x9`` is the config of the first PPO results (docs/results.md), kept so they reproduce.
PRESETS: dict[str, dict[str, Any]] = {
    "v1": {
        "env_id": "LatentGridworld/Pixel-v1",
        "total_timesteps": 2_000_000,
        "n_envs": 16,
        "n_steps": 128,
        "batch_size": 256,
        "n_epochs": 2,
        "eval_every": 100_000,
        "eval_episodes": 50,
        "final_eval_episodes": 300,
        # measured at 1M steps, baseline, seed 0 (docs/results.md): explicit 0.007 with
        # neither, 0.167 with the 64-step limit alone, 0.163 with shaping alone, 0.32 with both
        "train_max_steps": 64,
        "reward_shaping": "distance",
        # the walk around the goal's sighting, as the BC recipe: ``visible`` keeps no step of
        # the hub room, where v1's one decision is made (docs/results.md)
        "trim": "route",
    },
    "v0-9x9": {
        "env_id": "LatentGridworld/Pixel-v0",
        "size": 9,
        "n_mazes": 8,
        "max_steps": 64,
        "view_size": 5,
        "icl_share": 0.0,
        "tile_size": 8,
        "total_timesteps": 100_000,
        "n_envs": 8,
        "n_steps": 128,
        "batch_size": 64,
        "n_epochs": 2,
        "eval_every": 12_500,
        "eval_episodes": 40,
        "final_eval_episodes": 200,
        "train_max_steps": None,
        "vec_env": "dummy",
        "maze_input": False,
    },
}


@dataclass(frozen=True)
class TrainConfig:
    """Every knob of a PPO run. Both agents of a pair differ only in ``retrieval``.

    Build one with :meth:`from_preset` (``v1``, the default world, or ``v0-9x9``, the first
    results' config); the field defaults are the ``v1`` ones except where noted.

    Attributes:
        retrieval: ``oracle``, ``knn`` or ``none`` (the baseline: same network, keys masked).
        seed: Seeds PPO, the envs, and the prefilled memory.
        algo: ``ppo`` (SB3 PPO, reactive) or ``recurrent_ppo`` (sb3-contrib ``RecurrentPPO``,
            an LSTM over the same extractor's features: memory within an episode).
        vec_env: ``batched`` (:class:`~latent_gridworld.sb3.LatentGridworldSB3VecEnv` +
            :class:`~agents.rl.vec_wrapper.VecRetrieval`, numpy-batched) or ``dummy``
            (``DummyVecEnv`` of :class:`~agents.rl.wrapper.RetrievalObservation` envs; needed
            for ``knn`` and online filling). Both give the same transitions for the same seeds.
        env_id: The registered pixel env id the world starts from.
        total_timesteps: Env steps of training (summed over ``n_envs``).
        n_envs: Parallel envs.
        n_steps: Rollout length per env.
        batch_size: PPO minibatch size.
        n_epochs: PPO epochs per rollout.
        learning_rate: Adam learning rate.
        gamma: Discount.
        gae_lambda: GAE lambda.
        clip_range: PPO clip range.
        ent_coef: Entropy bonus.
        size: Maze side (border included); ``None``: the id's.
        n_mazes: Training-pool mazes; ``None``: the id's.
        max_steps: Episode step limit; ``None``: the id's (v1: the per-goal budget).
        view_size: Side of the partial view; ``None``: the id's.
        icl_share: Share of within-episode ICL training episodes; ``None``: the id's.
        position_cue: The agent's ``(row, col)`` in the observation; ``None``: the id's (v1:
            off). With it the retrieval wrappers also deliver each retrieved step's cell
            (``mem_positions``) and the extractor embeds both (ours: what lets a policy act
            on where a retrieved episode saw the goal).
        tile_size: Pixels per cell of the observed image; ``None``: the id's (v1: 12).
        train_max_steps: Step limit of the *training* envs only (``None``: the world's own).
            Evaluation always uses the world's budget. v1's budget (1.5 x shortest + 2) never
            pays a random walk (0 successes in 3,082 random train episodes, measured), so PPO
            would see no reward; at 200 steps a random walk succeeds 1.4% of the time. 64
            (v1) gives 3x the episodes, hence starts, of 200 and learnt faster (measured).
        reward_shaping: ``none`` or ``distance``: potential-based shaping of the *training*
            envs' reward (:class:`~agents.rl.shaping.VecPotentialShaping`, ``Phi = -shortest
            distance to the current goal / shaping_scale``, discounted with ``gamma``), which
            leaves the optimal policies unchanged. Evaluation is never shaped. Needs
            ``vec_env="batched"``. The field default is ``none``; the ``v1`` preset has
            ``distance``.
        shaping_scale: Steps per unit of potential.
        maze_input: The extractor embeds the env's maze cue (``obs["maze"]``; v1 has it, v0
            does not). Without it a memoryless policy cannot tell mazes apart from the hub.
        k: Retrieved episodes per query.
        steps_per_episode: Steps kept per retrieved episode.
        trim: Which steps are kept (the field default is ``visible``, the ``v1`` preset's
            ``route``): ``visible`` (object sightings first; in v1 none of them is
            in the hub room, where the latent decision is made) or ``uniform`` (evenly spaced
            over the whole episode, the path through the hub included) or ``route`` (the steps
            around the current goal's sightings: the walk to it or from it, as the BC recipe).
        n_relevant: Relevant episodes per oracle query.
        n_distractors: Distractor episodes per oracle query.
        requery: ``reset`` or ``goal_change`` (also query when an ICL goal is announced).
        memory_fill: ``prefill`` (expert episodes of the train split, fixed), ``online`` (the
            agent's own finished episodes, starting empty) or ``both``.
        prefill_episodes: Expert episodes in a prefilled memory.
        features_dim: Extractor output size.
        d_model: Extractor width.
        lstm_hidden: LSTM width of ``recurrent_ppo``.
        eval_every: Env steps between periodic evaluations (learning curves).
        eval_episodes: Episodes per split in a periodic evaluation.
        final_eval_episodes: Episodes per split in the final evaluation.
        eval_seed: First reset seed of evaluation episodes.
        run_dir: Parent folder of runs.
        name: Run folder name (default ``<retrieval>_s<seed>``, ``lstm_<retrieval>_s<seed>``
            for ``recurrent_ppo``).
        torch_threads: Torch intra-op threads (1: the machine is shared).
        progress_bar: Show SB3's progress bar.
        preset: The preset this config was built from (recorded, not applied).
    """

    retrieval: str = "oracle"
    seed: int = 0
    algo: str = "ppo"
    vec_env: str = "batched"
    env_id: str = "LatentGridworld/Pixel-v1"
    total_timesteps: int = 2_000_000
    n_envs: int = 16
    n_steps: int = 128
    batch_size: int = 256
    n_epochs: int = 2
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01
    size: int | None = None
    n_mazes: int | None = None
    max_steps: int | None = None
    view_size: int | None = None
    icl_share: float | None = None
    position_cue: bool | None = None
    tile_size: int | None = None
    train_max_steps: int | None = 64
    reward_shaping: str = "none"
    shaping_scale: float = 10.0
    maze_input: bool = True
    k: int = 3
    steps_per_episode: int = 8
    trim: str = "visible"
    n_relevant: int = 1
    n_distractors: int = 2
    requery: str = "reset"
    memory_fill: str = "prefill"
    prefill_episodes: int = 256
    features_dim: int = 128
    d_model: int = 64
    lstm_hidden: int = 128
    eval_every: int = 100_000
    eval_episodes: int = 50
    final_eval_episodes: int = 300
    eval_seed: int = 1_000_000
    run_dir: str = "runs/rl"
    name: str = ""
    torch_threads: int = 1
    progress_bar: bool = True
    preset: str = "v1"

    def __post_init__(self) -> None:
        if self.retrieval not in MODES:
            raise ValueError(f"unknown retrieval {self.retrieval!r}; valid: {', '.join(MODES)}")
        if self.memory_fill not in MEMORY_FILLS:
            raise ValueError(
                f"unknown memory_fill {self.memory_fill!r}; valid: {', '.join(MEMORY_FILLS)}"
            )
        if self.algo not in ALGOS:
            raise ValueError(f"unknown algo {self.algo!r}; valid: {', '.join(ALGOS)}")
        if self.vec_env not in VEC_ENVS:
            raise ValueError(f"unknown vec_env {self.vec_env!r}; valid: {', '.join(VEC_ENVS)}")
        if self.reward_shaping not in SHAPINGS:
            raise ValueError(
                f"unknown reward_shaping {self.reward_shaping!r}; valid: {', '.join(SHAPINGS)}"
            )
        if self.reward_shaping != "none" and self.vec_env != "batched":
            raise ValueError(
                "reward_shaping needs vec_env='batched' (it reads the batched info); "
                "pass --reward-shaping none with --vec-env dummy"
            )
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; valid: {', '.join(PRESETS)}")
        if self.vec_env == "batched" and (self.retrieval == "knn" or self.memory_fill != "prefill"):
            raise ValueError(
                "vec_env='batched' supports retrieval oracle/none with memory_fill='prefill'; "
                "use vec_env='dummy' for knn retrieval or online filling"
            )
        if not self.name:
            prefix = "lstm_" if self.algo == "recurrent_ppo" else ""
            # the one derived field; frozen, so set once here
            object.__setattr__(self, "name", f"{prefix}{self.retrieval}_s{self.seed}")

    @classmethod
    def from_preset(cls, preset: str = "v1", **overrides: Any) -> TrainConfig:
        """The config of ``preset`` with ``overrides`` (any field) on top.

        Raises:
            ValueError: Unknown preset (the message lists them).
        """
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[preset], **overrides, "preset": preset})

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """A config saved as ``config.json``; one saved before presets is the ``v0-9x9`` world."""
        data = json.loads(text)
        if "env_id" not in data:  # written before world v1: every world field is explicit
            data = {**data, "env_id": "LatentGridworld/Pixel-v0", "preset": "v0-9x9"}
            data.setdefault("vec_env", "dummy")
            data.setdefault("train_max_steps", None)
        # written before the extractor read the maze cue: its network has no maze embedding
        data.setdefault("maze_input", False)
        # written while the config had an untyped ``extra`` dict of world kwargs (never set by
        # the command line); a run that used it cannot be rebuilt from the typed fields
        extra = data.pop("extra", {})
        if extra:
            raise ValueError(
                f"this config.json sets world kwargs {sorted(extra)} through the removed "
                "'extra' field; the typed fields are size, n_mazes, max_steps, view_size, "
                "icl_share"
            )
        return cls(**data)

    @property
    def world(self) -> dict[str, Any]:
        """World kwargs of the env that differ from the id's (``None`` fields: the id's)."""
        fields = {
            "size": self.size,
            "n_mazes": self.n_mazes,
            "max_steps": self.max_steps,
            "view_size": self.view_size,
            "icl_share": self.icl_share,
            "position_cue": self.position_cue,
        }
        return {k: v for k, v in fields.items() if v is not None}

    @property
    def env_spec(self) -> EnvSpec:
        """The env/retrieval settings shared by training and evaluation."""
        return EnvSpec(
            world=self.world,
            tile_size=self.tile_size,
            mode=self.retrieval,
            k=self.k,
            steps_per_episode=self.steps_per_episode,
            n_relevant=self.n_relevant,
            n_distractors=self.n_distractors,
            requery=self.requery,
            env_id=self.env_id,
            trim=self.trim,
        )


def algorithm_class(algo: str) -> Any:
    """The SB3 algorithm class of ``algo`` (``RecurrentPPO`` needs sb3-contrib).

    Raises:
        ValueError: Unknown algo.
        ImportError: ``recurrent_ppo`` without sb3-contrib installed (the message says how).
    """
    if algo == "ppo":
        from stable_baselines3 import PPO

        return PPO
    if algo == "recurrent_ppo":
        try:
            from sb3_contrib import RecurrentPPO
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ImportError(
                "algo='recurrent_ppo' needs sb3-contrib: pip install sb3-contrib"
            ) from err
        return RecurrentPPO
    raise ValueError(f"unknown algo {algo!r}; valid: {', '.join(ALGOS)}")


def build_memory(config: TrainConfig) -> EpisodicMemory:
    """The memory a run starts with: expert episodes (``prefill``/``both``) or empty."""
    if config.memory_fill == "online":
        return EpisodicMemory.for_world(config.env_spec.world_config())
    return expert_memory(
        config.world,
        config.prefill_episodes,
        seed=10_000 * (config.seed + 1),
        env_id=config.env_id,
    )
