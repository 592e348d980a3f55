"""The BC transformer agents: inputs, training, checkpoints, bad input."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch

from agents.bc.agent import BCAgent
from agents.bc.context import TOKENIZER, StepFormat, build_context, current_rows, memory_rows
from agents.bc.data import SampleStream, StreamConfig
from agents.bc.model import BCTransformer
from agents.bc.train import (
    ContextMaker,
    TrainConfig,
    check_dataset_matches,
    load_checkpoint,
    save_checkpoint,
    train,
)
from agents.evaluation import evaluate_agent, mean_ci
from agents.memory import EpisodicMemory
from agents.protocol import AgentContext
from agents.reference import reference_factory
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.datasets import generate_dataset, save_dataset
from latent_gridworld.encoders.ascii import codes_to_ascii

TINY_WORLD = {
    "size": 7,
    "view_size": 3,
    "n_mazes": 4,
    "n_object_types": 4,
    "objects_per_maze": 3,
    "position_cue": True,
}

TINY_STREAM = {"buffer_size": 32, "episodes_per_maze": 4, "new_mazes_per_step": 1}


def tiny_config(tmp_path, agent="baseline", **changes) -> TrainConfig:
    fields = {
        "agent": agent,
        "seed": 0,
        "steps": 120,
        "batch_size": 16,
        "lr": 3e-3,
        "warmup": 20,
        "world": dict(TINY_WORLD),
        "pool_episodes": 300,
        "model": {"d_token": 4, "d_model": 32, "n_layers": 1, "n_heads": 2},
        "stream": dict(TINY_STREAM),
        "out": str(tmp_path / agent),
        "progress": False,
        "tensorboard": False,
        "eval_tasks": 0,
    }
    fields.update(changes)
    return TrainConfig.from_dict(fields)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny baseline, trained once for the tests that need a model (~seconds)."""
    tmp = tmp_path_factory.mktemp("bc")
    config = tiny_config(tmp)
    path = train(config)
    return path, config


# -------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("cues", [(False, False), (True, True)])
def test_step_rows_are_the_tokenizer_encoding(cues):
    maze_cue, position_cue = cues
    ep = generate_dataset(episodes=1, seed=3, icl_share=0.0, size=9)[0]
    fmt = StepFormat(25, maze_cue=maze_cue, position_cue=position_cue)
    rows = current_rows(fmt, ep, maze_cue_id=ep.maze)
    for t in range(len(ep)):
        expected = TOKENIZER.encode_step(
            codes_to_ascii(ep.views[t]),
            goal=int(ep.goals[t]),
            prev_action=None if t == 0 else int(ep.actions[t - 1]),
            maze=ep.maze if maze_cue else None,
            position=tuple(ep.positions[t]) if position_cue else None,
        )
        assert rows[t].tolist() == expected
    assert rows.shape == (len(ep), fmt.length)


def test_object_location_tokens_name_the_maze_cell_of_every_object_in_view():
    from latent_gridworld.core import world as world_core

    config = WorldConfig(size=13, position_cue=True)
    fmt = StepFormat(25, position_cue=True, object_slots=2)
    start = 25 + 3 + 2  # view, <goal> letter action, row col
    checked = 0
    for ep in generate_dataset(episodes=20, seed=5, icl_share=0.0, size=13, position_cue=True):
        maze = world_core.build_maze(config, ep.maze)
        cell_of = {int(t): tuple(c) for t, c in zip(maze.object_types, maze.object_cells)}
        rows = current_rows(fmt, ep)
        assert rows.shape[1] == fmt.length == start + 6 + 1
        for t in range(len(ep)):
            names = [TOKENIZER.itos[int(i)] for i in rows[t, start : start + 6]]
            listed = {(names[k], names[k + 1], names[k + 2]) for k in (0, 3) if names[k] != "<pad>"}
            in_view = np.flatnonzero(ep.visible[t])
            expected = {
                (
                    TOKENIZER.itos[int(TOKENIZER.object_tokens[o])],
                    f"<row:{cell_of[o][0]}>",
                    f"<col:{cell_of[o][1]}>",
                )
                for o in in_view
            }
            if len(in_view) <= 2:
                assert listed == expected
                checked += len(in_view)
    assert checked > 30


def test_memory_rows_hold_the_action_taken_and_eos_at_the_end():
    ep = generate_dataset(episodes=1, seed=4, size=9)[0]
    fmt = StepFormat(25)
    steps = np.array([0, len(ep)])  # the first step and the final observation
    rows = memory_rows(fmt, ep, steps)
    assert TOKENIZER.itos[rows[0, 27]] == ["NORTH", "EAST", "SOUTH", "WEST"][ep.actions[0]]
    assert rows[1, 27] == TOKENIZER.eos


def test_context_puts_memory_first_and_targets_only_current_steps():
    fmt = StepFormat(9)
    mem = [np.ones((3, fmt.length), np.int64), np.ones((2, fmt.length), np.int64)]
    cur = np.zeros((4, fmt.length), np.int64)
    ctx = build_context(fmt, cur, np.array([0, 1, 2, 3]), mem, max_current=3)
    assert ctx.segment.tolist() == [1, 1, 1, 2, 2, 0, 0, 0]
    assert ctx.time.tolist() == [0, 1, 2, 0, 1, 0, 1, 2]
    assert ctx.targets.tolist() == [-100] * 5 + [1, 2, 3]  # the window keeps the last 3 steps


def test_stream_is_identical_for_both_agents_and_mazes_are_fresh():
    world = WorldConfig(**TINY_WORLD)
    pool = generate_dataset(episodes=50, seed=0, **TINY_WORLD)
    stream = StreamConfig(buffer_size=8, episodes_per_maze=3, new_mazes_per_step=1, moved_share=0.5)
    a = SampleStream(world, pool, stream, seed=5).batch(16)
    b = SampleStream(world, pool, stream, seed=5).batch(16)
    assert [s.episode.actions.tolist() for s in a] == [s.episode.actions.tolist() for s in b]
    stream_samples = [s for s in a if not s.pool]
    assert len(stream_samples) == 8
    for s in stream_samples:
        maze, placement = s.maze_key
        # fresh mazes lie beyond the pool and the new_maze split; moved ones keep a pool id
        assert maze >= world.n_mazes + world.n_new_mazes or (maze < world.n_mazes and placement > 0)
        assert s.relevant is not None and s.relevant is not s.episode


@pytest.mark.parametrize("moved_latent_goals", [False, True])
def test_latent_types_are_goals_only_in_moved_placements_and_only_when_asked(moved_latent_goals):
    from latent_gridworld.core import world as world_core

    world = WorldConfig(**TINY_WORLD)
    pool = generate_dataset(episodes=50, seed=0, **TINY_WORLD)
    stream = StreamConfig(
        buffer_size=64,
        episodes_per_maze=4,
        new_mazes_per_step=4,
        moved_share=1.0,
        moved_latent_goals=moved_latent_goals,
    )
    samples = SampleStream(world, pool, stream, seed=1).batch(64)
    latent_goal_in_moved = False
    for s in samples:
        maze_id, placement = s.maze_key
        latent = world_core.build_maze(world, maze_id).latent_types
        is_latent = s.goal in latent.tolist()
        if s.pool or placement == 0:
            assert not is_latent  # a latent pair at its own placement is never a training goal
        latent_goal_in_moved |= is_latent
    assert latent_goal_in_moved == moved_latent_goals


# -------------------------------------------------------------------------- the pair


def test_variants_share_every_parameter_and_differ_only_in_the_memory(tmp_path):
    base, ret = tiny_config(tmp_path, "baseline"), tiny_config(tmp_path, "retrieval")
    a, b = BCTransformer(base.model_config()), BCTransformer(ret.model_config())
    shapes_a = {k: tuple(v.shape) for k, v in a.state_dict().items()}
    shapes_b = {k: tuple(v.shape) for k, v in b.state_dict().items()}
    assert shapes_a == shapes_b
    differing = {
        f.name
        for f in dataclasses.fields(TrainConfig)
        if getattr(base, f.name) != getattr(ret, f.name)
    }
    assert differing == {"agent", "out"}
    pool = generate_dataset(episodes=60, seed=0, **TINY_WORLD)
    memory = EpisodicMemory(n_object_types=4)
    memory.extend(pool)
    samples = SampleStream(base.world_config(), pool, base.stream, 0).batch(8)
    plain = ContextMaker(base, None).contexts(samples)
    with_memory = ContextMaker(ret, memory).contexts(samples)
    # the same current rows, with retrieved rows (segment > 0) in front for the retrieval agent
    for i in range(8):
        cur_plain = plain["rows"][i][(plain["segment"][i] == 0) & ~plain["pad"][i]]
        cur_mem = with_memory["rows"][i][(with_memory["segment"][i] == 0) & ~with_memory["pad"][i]]
        assert np.array_equal(cur_plain, cur_mem)
    assert (with_memory["segment"] > 0).any() and not (plain["segment"] > 0).any()


# -------------------------------------------------------------------------- training


def test_tiny_training_beats_a_random_walk_on_train(trained):
    path, config = trained
    model, loaded, extra = load_checkpoint(path)
    assert extra["step"] == config.steps
    world = config.world_config()
    agent = BCAgent(model, loaded, None)
    bc = evaluate_agent(agent, world, "train", 60, seed=7)
    rnd = evaluate_agent(
        reference_factory("random")(AgentContext(world, None, 0)), world, "train", 60, seed=7
    )
    assert bc.success_rate >= rnd.success_rate + 0.2, (bc.success_rate, rnd.success_rate)


def test_training_is_deterministic_on_cpu(tmp_path):
    a = train(tiny_config(tmp_path / "a", steps=15))
    b = train(tiny_config(tmp_path / "b", steps=15))
    sa, sb = (torch.load(p, weights_only=True)["state_dict"] for p in (a, b))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_checkpoint_round_trip_gives_identical_actions(trained, tmp_path):
    path, config = trained
    model, loaded, _ = load_checkpoint(path)
    save_checkpoint(tmp_path / "copy.pt", model, loaded, 1)
    copy, _, _ = load_checkpoint(tmp_path / "copy.pt", expect=loaded)
    world = config.world_config()
    runs = [
        evaluate_agent(BCAgent(m, loaded, None), world, "explicit", 20, seed=3)
        for m in (model, copy)
    ]
    assert np.array_equal(runs[0].steps, runs[1].steps)
    assert np.array_equal(runs[0].success, runs[1].success)


# -------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"agent": "transformer"}, "unknown agent 'transformer'; valid: baseline, retrieval"),
        ({"retrieval": "bm25"}, "unknown retrieval mode 'bm25'; valid: oracle, knn"),
        ({"n_relevant": 0, "n_distractors": 0}, "k = n_relevant + n_distractors >= 1"),
        ({"world": {"size": 8}}, "size must be an odd integer"),
        ({"memory_trim": "first"}, "unknown memory_trim 'first'; valid: visible, goal"),
        ({"object_slots": 2, "world": {"size": 7}}, "object_slots needs the position cue"),
        ({"goal_conditioned": True}, "goal_conditioned needs the goal head"),
        ({"model": {"aux_size": 5}}, "unknown model option(s) ['aux_size']"),
        ({"navigator": True}, "navigator needs the goal head"),
        (
            {"aux_goal_weight": 1.0, "navigator": True, "goal_conditioned": True},
            "choose one of navigator and goal_conditioned",
        ),
        (
            {"aux_goal_weight": 1.0, "goal_teacher_forcing": 1.5},
            "goal_teacher_forcing must be in [0, 1], got 1.5",
        ),
    ],
)
def test_bad_config_fails_before_training(tmp_path, changes, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        train(tiny_config(tmp_path, **changes))
    assert not list(tmp_path.iterdir())  # nothing was written


def test_checkpoint_from_another_config_is_rejected(trained, tmp_path):
    path, config = trained
    other = dataclasses.replace(config, world=config.world.replace(view_size=5))
    with pytest.raises(ValueError, match="trained with another config: world"):
        load_checkpoint(path, expect=other)
    payload = torch.load(path, weights_only=True)
    payload["version"] = 99
    torch.save(payload, tmp_path / "v99.pt")
    with pytest.raises(ValueError, match="checkpoint version 99"):
        load_checkpoint(tmp_path / "v99.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_baseline_checkpoint_serves_any_retrieval_setting_but_a_retrieval_one_does_not(trained):
    path, config = trained  # a baseline
    other_memory = dataclasses.replace(
        config, retrieval="knn", n_distractors=4, memory_trim="goal", relevant_goal="other"
    )
    load_checkpoint(path, expect=other_memory)  # the baseline never read a memory
    as_retrieval = dataclasses.replace(other_memory, agent="retrieval")
    with pytest.raises(ValueError, match="trained with another config: agent"):
        load_checkpoint(path, expect=as_retrieval)


def test_dataset_from_another_world_is_rejected_before_training(tmp_path):
    ds = generate_dataset(episodes=20, seed=0, **{**TINY_WORLD, "view_size": 5})
    save_dataset(ds, tmp_path / "d.npz")
    config = tiny_config(tmp_path, dataset=str(tmp_path / "d.npz"))
    with pytest.raises(
        ValueError, match=r"does not match the env config: view_size: dataset 5 vs env 3"
    ):
        train(config)
    with pytest.raises(ValueError, match="n_mazes"):
        check_dataset_matches(WorldConfig(n_mazes=8), WorldConfig(n_mazes=16), "x")


def test_mean_ci_uses_student_t_for_few_seeds():
    mean, half = mean_ci([0.2, 0.4])
    assert mean == pytest.approx(0.3)
    assert half == pytest.approx(12.706 * np.std([0.2, 0.4], ddof=1) / np.sqrt(2))


def test_auxiliary_goal_cells_point_at_where_the_expert_ends(tmp_path):
    config = tiny_config(tmp_path, "baseline", aux_goal_weight=1.0)
    pool = generate_dataset(episodes=40, seed=1, icl_share=0.5, **TINY_WORLD)
    samples = SampleStream(config.world_config(), pool, config.stream, 0).batch(16)
    batch = ContextMaker(config, None).contexts(samples)
    for i, s in enumerate(samples):
        cells = batch["goal_cells"][i][~batch["pad"][i]]
        # the expert stops on the final goal; an ICL episode's first goal is where it switched
        assert cells[-1].tolist() == s.episode.positions[-1].tolist()
        switch = np.flatnonzero(np.diff(s.episode.goals.astype(int)))
        for t in switch:
            assert cells[t].tolist() == s.episode.positions[t + 1].tolist()
    model = BCTransformer(config.model_config())
    assert model.config.aux_size == 7


def test_memory_probe_compares_like_with_like(trained):
    from agents.bc.probe import memory_probe

    path, config = trained
    model, loaded, _ = load_checkpoint(path)
    pool = generate_dataset(episodes=60, seed=0, **TINY_WORLD)
    # without a memory the three variants see identical inputs, so identical losses
    probe = memory_probe(model, loaded, pool, None, n_samples=32)
    for kind in ("stream", "pool"):
        row = probe[kind]
        assert row["samples"] == 16
        assert row["relevant_loss"] == row["distractors_loss"] == row["none_loss"]


def test_goal_location_probe_reads_the_goal_head_before_the_goal_is_seen(trained, tmp_path):
    from agents.bc.probe import goal_location_probe

    path, _ = trained
    model, loaded, _ = load_checkpoint(path)
    with pytest.raises(ValueError, match="needs a model trained with aux_goal_weight > 0"):
        goal_location_probe(model, loaded, None)
    config = tiny_config(tmp_path, "retrieval", aux_goal_weight=1.0)
    untrained = BCTransformer(config.model_config())
    pool = generate_dataset(episodes=60, seed=0, **TINY_WORLD)
    memory = EpisodicMemory(n_object_types=TINY_WORLD["n_object_types"])
    memory.extend(pool)
    probe = goal_location_probe(untrained, config, memory, n_tasks=12)
    assert set(probe) == {"explicit", "latent", "new_maze"}
    # no memory of a new maze exists, so only the memory-free variant is probed there
    assert {k.split("_")[0] for k in probe["new_maze"]} == {"none"}
    assert {k.split("_")[0] for k in probe["latent"]} == {"none", "relevant", "distractors"}
    for row in probe.values():
        for key, value in row.items():
            assert (0.0 <= value <= 1.0) if key.endswith("acc") else value > 0.0


def test_goal_conditioned_policy_walks_to_the_cell_it_is_given(tmp_path):
    config = tiny_config(
        tmp_path,
        "baseline",
        steps=150,
        aux_goal_weight=1.0,
        goal_conditioned=True,
        goal_teacher_forcing=1.0,
    )
    model, loaded, _ = load_checkpoint(train(config))
    assert model.config.goal_conditioned and loaded.goal_conditioned
    pool = generate_dataset(episodes=60, seed=5, **TINY_WORLD)
    samples = SampleStream(loaded.world_config(), pool, loaded.stream, 1).batch(32)
    batch = {k: torch.as_tensor(v) for k, v in ContextMaker(loaded, None).contexts(samples).items()}
    targets, cells = batch["targets"], batch["goal_cells"]
    # another cell of the same maze in place of the goal: flip the goal's row and column
    wrong = torch.where(cells >= 0, loaded.world_config().size - 1 - cells, cells)
    moved = (wrong != cells).any(-1) & (targets >= 0)

    def accuracy(goal_cells: torch.Tensor | None) -> float:
        with torch.no_grad():
            logits = model(
                batch["rows"], batch["segment"], batch["time"], batch["pad"], goal_cells, 1.0
            )
        return float((logits.argmax(-1) == targets)[moved].float().mean())

    # told the true cell it follows the expert; told another one it leaves the expert's path
    assert accuracy(cells) >= accuracy(wrong) + 0.05, (accuracy(cells), accuracy(wrong))


def test_navigator_acts_on_the_target_cell_and_never_sees_the_goal_letter(tmp_path):
    config = tiny_config(tmp_path, "retrieval", aux_goal_weight=1.0, navigator=True)
    torch.manual_seed(0)
    model = BCTransformer(config.model_config()).eval()
    pool = generate_dataset(episodes=60, seed=5, **TINY_WORLD)
    memory = EpisodicMemory(n_object_types=TINY_WORLD["n_object_types"])
    memory.extend(pool)
    samples = SampleStream(config.world_config(), pool, config.stream, 1).batch(8)
    batch = {
        k: torch.as_tensor(v) for k, v in ContextMaker(config, memory).contexts(samples).items()
    }
    slot = config.step_format().view_cells + 1
    assert model.config.goal_slot == slot
    other_goal = batch["rows"].clone()
    first_letter = int(TOKENIZER.object_tokens[0])
    other_goal[..., slot] = first_letter + (other_goal[..., slot] - first_letter + 1) % 4
    assert (other_goal[..., slot] != batch["rows"][..., slot])[~batch["pad"]].all()

    def logits(rows: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(rows, batch["segment"], batch["time"], batch["pad"], cells, 1.0)

    current = (batch["segment"] == 0) & ~batch["pad"]
    cells = batch["goal_cells"]
    # told where to go, the action does not depend on which object is asked for ...
    same = logits(other_goal, cells)[current]
    assert torch.allclose(logits(batch["rows"], cells)[current], same, atol=1e-5)
    # ... but it does depend on where that is
    moved = torch.where(cells >= 0, TINY_WORLD["size"] - 1 - cells, cells)
    assert not torch.allclose(logits(batch["rows"], moved)[current], same, atol=1e-3)


def test_closed_loop_belief_splits_success_by_what_the_goal_head_said_first(trained, tmp_path):
    from agents.bc.probe import closed_loop_belief

    path, _ = trained
    model, loaded, _ = load_checkpoint(path)
    world = loaded.world_config()
    with pytest.raises(ValueError, match="needs a model trained with aux_goal_weight > 0"):
        closed_loop_belief(BCAgent(model, loaded, None), world, "latent", 4, seed=0)
    config = tiny_config(tmp_path, "baseline", aux_goal_weight=1.0)
    agent = BCAgent(BCTransformer(config.model_config()), config, None)
    out = closed_loop_belief(agent, world, "latent", 40, seed=2)
    plain = evaluate_agent(agent, world, "latent", 40, seed=2)  # the same tasks
    hidden = ~plain.trivial
    assert out["tasks"] == hidden.sum() and out["success"] == round(plain.success[hidden].mean(), 4)
    assert all(isinstance(b, tuple) and len(b) == 2 for b in agent.first_beliefs)
    right = out["belief_right"]
    parts = [(right, out["success_if_right"]), (1 - right, out["success_if_wrong"])]
    total = sum(share * rate for share, rate in parts if rate is not None)
    assert total == pytest.approx(out["success"], abs=1e-3)


def test_perturbed_samples_imitate_the_expert_not_the_perturbation(tmp_path):
    world = WorldConfig(**TINY_WORLD)
    pool = generate_dataset(episodes=50, seed=0, **TINY_WORLD)
    stream = StreamConfig(
        buffer_size=8, episodes_per_maze=3, new_mazes_per_step=1, noise_share=1.0, noise=0.3
    )
    samples = SampleStream(world, pool, stream, seed=2).batch(16)
    assert all(s.labels is not None for s in samples)
    assert any((s.labels != s.episode.actions).any() for s in samples)
    config = tiny_config(tmp_path, stream={**TINY_STREAM, "noise_share": 1.0})
    batch = ContextMaker(config, None).contexts(samples)
    for i, s in enumerate(samples):
        kept = batch["targets"][i][batch["targets"][i] != -100]
        assert kept.tolist() == s.labels[-config.max_current :].tolist()
    clean = SampleStream(
        world, pool, StreamConfig(buffer_size=8, episodes_per_maze=3, new_mazes_per_step=1), seed=2
    )
    assert all(s.labels is None for s in clean.batch(16))


@pytest.mark.parametrize(
    ("stream", "message"),
    [({"noise_share": 1.5}, "noise_share must be in"), ({"noise": 1.0}, "noise must be in")],
)
def test_bad_noise_options_are_named(tmp_path, stream, message):
    with pytest.raises(ValueError, match=message):
        tiny_config(tmp_path, stream={**TINY_STREAM, **stream})


def test_go_to_cell_samples_tell_an_empty_cell_under_an_absent_letter(tmp_path):
    from latent_gridworld.core import world as world_core

    config = tiny_config(
        tmp_path,
        navigator=True,
        aux_goal_weight=1.0,
        stream={**TINY_STREAM, "cell_share": 1.0, "stream_share": 0.0},
    )
    world = config.world_config()
    pool = generate_dataset(episodes=50, seed=0, **TINY_WORLD)
    samples = SampleStream(world, pool, config.stream, seed=3).batch(8)
    for s in samples:
        maze = world_core.build_maze(world, *s.maze_key)
        assert s.target_cell is not None and not maze.walls[s.target_cell]
        assert s.target_cell not in {tuple(c) for c in maze.object_cells.tolist()}
        assert s.goal not in maze.object_types and (s.episode.goals == s.goal).all()
        assert tuple(s.episode.positions[-1]) == s.target_cell
    batch = ContextMaker(config, None).contexts(samples)
    current = batch["targets"] != -100
    assert (batch["told_cells"][current] >= 0).all() and (batch["goal_cells"] == -100).all()
    # being told a cell is teacher forcing that always applies
    model = BCTransformer(config.model_config())
    t = {k: torch.as_tensor(v) for k, v in batch.items()}
    args = (t["rows"], t["segment"], t["time"], t["pad"])
    told = model(*args, told_cells=t["told_cells"])
    forced = model(*args, goal_cells=t["told_cells"], teacher_forcing=1.0)
    assert torch.equal(told, forced)
    # and the training loop runs on a mix of them with perturbed and plain episodes
    mixed = dataclasses.replace(config.stream, cell_share=0.5, stream_share=0.5, noise_share=0.5)
    assert train(dataclasses.replace(config, steps=3, stream=mixed), pool=pool).exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, "needs a policy that is told a cell"),
        (
            {
                "navigator": True,
                "aux_goal_weight": 1.0,
                "world": {**TINY_WORLD, "objects_per_maze": 4},
            },
            "needs an object type absent",
        ),
    ],
)
def test_go_to_cell_samples_need_a_told_policy_and_an_absent_type(tmp_path, changes, message):
    stream = {**TINY_STREAM, "cell_share": 0.5}
    with pytest.raises(ValueError, match=message):
        tiny_config(tmp_path, stream=stream, **changes)


def test_checkpoint_saved_before_a_stream_option_existed_still_matches(trained, tmp_path):
    import json

    path, config = trained
    payload = torch.load(path, weights_only=True)
    saved = json.loads(payload["train_config"])
    for newer in ("noise_share", "noise", "cell_share"):  # as a session-3 checkpoint has it
        saved["stream"].pop(newer)
    payload["train_config"] = json.dumps(saved)
    torch.save(payload, tmp_path / "old.pt")
    _, loaded, _ = load_checkpoint(tmp_path / "old.pt", expect=config)
    assert loaded.stream == config.stream
    noisy = dataclasses.replace(config, stream=dataclasses.replace(config.stream, noise_share=0.5))
    with pytest.raises(ValueError, match="trained with another config: stream"):
        load_checkpoint(tmp_path / "old.pt", expect=noisy)


def test_told_agent_acts_on_the_true_cell_not_on_its_goal_head(tmp_path):
    from agents.bc.probe import told_success
    from agents.evaluation import make_env

    config = tiny_config(tmp_path, "baseline", aux_goal_weight=1.0, navigator=True)
    world = config.world_config()
    torch.manual_seed(0)
    model = BCTransformer(config.model_config()).eval()
    with torch.no_grad():  # untrained, the target barely moves the logits: make it count
        model.target_embed.weight.mul_(100.0)
    env = make_env(world, "latent")
    starts = [env.reset(seed=i) for i in range(32)]
    observations, infos = [o for o, _ in starts], [i for _, i in starts]

    def first_actions(agent: BCAgent) -> list[int]:
        agent.reset_batch(observations, infos)
        return agent.act_batch(range(32), observations, infos).tolist()

    told = first_actions(BCAgent(model, config, None, told_goal=True))
    believed = first_actions(BCAgent(model, config, None))
    told_rate = told_success(BCAgent(model, config, None, told_goal=True), world, "latent", 12, 4)
    with torch.no_grad():  # a sure and wrong belief everywhere: the corner wall (0, 0)
        last = model.goal_head[-1]
        last.weight.zero_()
        last.bias.zero_()
        last.bias[[0, model.config.aux_size]] = 50.0
    assert first_actions(BCAgent(model, config, None, told_goal=True)) == told
    assert first_actions(BCAgent(model, config, None)) != believed
    # the ceiling it measures does not move with the belief, and needs a told agent
    assert told_success(BCAgent(model, config, None, told_goal=True), world, "latent", 12, 4) == (
        told_rate
    )
    with pytest.raises(ValueError, match="told_success needs an agent built with told_goal=True"):
        told_success(BCAgent(model, config, None), world, "latent", 12, 4)
    plain = tiny_config(tmp_path, "baseline", aux_goal_weight=1.0)
    with pytest.raises(ValueError, match="told_goal needs a policy with a target input"):
        BCAgent(BCTransformer(plain.model_config()), plain, None, told_goal=True)


# -------------------------------------------------------------------------- the config

# the train_config of a world-v1 checkpoint written by the dict-based config (before the typed
# one), key for key: every such checkpoint must read back into a config that writes it again
V1_STORED = {
    "agent": "retrieval", "aux_goal_weight": 1.0, "batch_size": 32, "dataset": None,
    "eval_every": 1000, "eval_tasks": 64, "goal_conditioned": False, "goal_teacher_forcing": 0.5,
    "grad_clip": 1.0, "lr": 0.002, "max_current": 64, "memory_steps": 10, "memory_trim": "route",
    "model": {"d_model": 64, "d_token": 8, "n_heads": 4, "n_layers": 2}, "n_distractors": 2,
    "n_relevant": 1, "navigator": False, "object_slots": 2, "out": "runs/v1/retrieval_s0",
    "pool_episodes": 2000, "pool_icl_share": 0.25, "progress": True, "relevant_goal": "other",
    "retrieval": "oracle", "seed": 0, "steps": 8000,
    "stream": {
        "buffer_size": 512, "cell_share": 0.0, "episodes_per_maze": 8,
        "moved_latent_goals": False, "moved_share": 0.5, "new_mazes_per_step": 2, "noise": 0.2,
        "noise_share": 0.0, "stream_share": 0.5,
    },
    "tensorboard": True, "threads": 1, "warmup": 300, "weight_decay": 0.01,
    "world": {
        "arm_length": [7, 10], "budget_offset": 2, "budget_scale": 1.5, "hub_start_share": 0.5,
        "latent_per_maze": 6, "maze_cue": True, "maze_family": "radial", "n_arms": [10, 12],
        "n_mazes": 16, "objects_per_maze": 8, "position_cue": True, "room_size": 5, "size": 21,
        "view_size": 3,
    },
}  # fmt: skip


def test_a_stored_config_reads_back_into_the_same_dict():
    config = TrainConfig.from_dict(V1_STORED)
    assert config.to_dict() == V1_STORED  # defaults it stated (n_mazes 16) stay written
    assert list(config.to_dict()["world"]) == list(V1_STORED["world"])  # in its order
    assert config.world.n_arms == (10, 12) and config.model.max_time == 128
    assert TrainConfig.from_dict(config.to_dict()) == config
    # a stream dict from before an option existed takes the option's default (off)
    older = {**V1_STORED, "stream": {"buffer_size": 512}}
    assert TrainConfig.from_dict(older).stream == dataclasses.replace(
        config.stream, buffer_size=512
    )


def test_flags_are_generated_from_the_fields_and_match_their_set_spelling():
    from agents.bc.train import build_parser, config_from_args

    def config(argv):
        return config_from_args(build_parser().parse_args(argv))

    flags = config(
        ["--lr", "0.001", "--world.size", "9", "--world.n_arms", "3", "4", "--model.d_model",
         "32", "--stream.noise_share", "0.5", "--no-progress", "--batch-size", "4",
         "--world.max_steps", "none"]
    )  # fmt: skip
    sets = config(
        ["--set", "lr=0.001", "--set", 'world={"size": 9, "n_arms": [3, 4]}', "--set",
         'model.d_model=32', "--set", 'stream={"noise_share": 0.5}', "--set", "progress=false",
         "--set", "batch_size=4", "--set", "world.max_steps=null"]
    )  # fmt: skip
    assert flags == sets and flags.to_dict() == sets.to_dict()
    assert flags.world.n_arms == (3, 4) and flags.model.d_model == 32 and not flags.progress
    assert flags.world.view_size == 5  # the flag changed one field of the default world
    assert config([]) == TrainConfig()
    text = build_parser().format_help()
    assert "--world.size INT" in text and "Transformer width. (default: 64)" in text
    assert "--tensorboard, --no-tensorboard" in text and "--stated" not in text


def test_every_problem_of_a_config_is_named_at_once():
    with pytest.raises(ValueError) as err:
        TrainConfig.from_dict(
            {"world": {"size": 8, "colour": 1}, "agent": "x", "lr": "fast", "stream": 3, "zz": 0}
        )
    message = str(err.value)
    for part in (
        "unknown field(s) ['zz']",
        "unknown world option(s) ['colour']",
        "size must be an odd integer",
        "stream must be an object of StreamConfig fields",
        "lr must be a number, got 'fast'",
        "unknown agent 'x'",
    ):
        assert part in message, part
    with pytest.raises(ValueError, match="world must be a WorldConfig"):
        TrainConfig(world={"size": 9})  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().lr = 1.0  # type: ignore[misc]


# -------------------------------------------------------------------------- the fast path


def test_baseline_batches_are_the_rows_of_the_first_version(tmp_path):
    """Cached token rows and the batch collation give exactly what per-sample encoding gave."""
    from agents.bc.context import collate

    config = tiny_config(tmp_path, aux_goal_weight=1.0, stream={**TINY_STREAM, "noise_share": 0.5})
    world = config.world_config()
    pool = generate_dataset(episodes=60, seed=2, icl_share=0.5, **TINY_WORLD)
    stream = SampleStream(world, pool, config.stream, 4)
    maker = ContextMaker(config, None)
    from latent_gridworld.core.world import build_maze

    for _ in range(3):  # later batches read the caches
        samples = stream.batch(16)
        batch = maker.contexts(samples)
        contexts = []
        for s in samples:
            maze = build_maze(world, *s.maze_key)
            cell_of = {int(t): c for t, c in zip(maze.object_types, maze.object_cells)}
            cells = np.array([cell_of[int(g)] for g in s.episode.goals[: len(s.episode)]])
            rows = current_rows(config.step_format(), s.episode, min(s.episode.maze, 4))
            contexts.append(build_context(config.step_format(), rows, s.targets, [], 64, cells))
        expected = collate(contexts, TOKENIZER.pad)
        assert set(batch) == set(expected)
        for key, value in expected.items():
            assert np.array_equal(batch[key], value), key


def test_retrieved_rows_are_trimmed_rows_of_memory_episodes(tmp_path):
    from agents.memory.retrieval import trim_steps

    config = tiny_config(tmp_path, "retrieval", memory_trim="goal", memory_steps=4)
    world = config.world_config()
    pool = generate_dataset(episodes=80, seed=0, **TINY_WORLD)
    memory = EpisodicMemory(n_object_types=4)
    memory.extend(pool)
    samples = SampleStream(world, pool, config.stream, 1).batch(16)
    batch = ContextMaker(config, memory).contexts(samples)
    fmt = config.step_format()
    for i, s in enumerate(samples):
        # every memory segment is some episode's trimmed rows; a stream sample's come from the
        # batch's relevant episodes (shown as a new maze), a pool sample's never from itself
        candidates = [e for t in samples if not t.pool for e in [t.relevant]]
        if s.pool:
            candidates = [memory[j] for j in range(len(memory)) if j != s.pool_index]
        for seg in range(1, config.k + 1):
            rows = batch["rows"][i][batch["segment"][i] == seg]
            if not len(rows):
                continue
            options = [
                memory_rows(fmt, e, trim_steps(e.visible, 4, "goal", s.goal), 4) for e in candidates
            ]
            assert any(o.shape == rows.shape and np.array_equal(o, rows) for o in options)


def test_packed_model_computes_what_the_padded_encoder_computes(tmp_path):
    """The fast path is the same function as nn.TransformerEncoder over the padded batch."""
    config = tiny_config(tmp_path, "retrieval", aux_goal_weight=1.0, goal_conditioned=True)
    torch.manual_seed(0)
    model = BCTransformer(config.model_config())
    pool = generate_dataset(episodes=60, seed=0, **TINY_WORLD)
    memory = EpisodicMemory(n_object_types=4)
    memory.extend(pool)
    samples = SampleStream(config.world_config(), pool, config.stream, 2).batch(16)
    b = {k: torch.as_tensor(v) for k, v in ContextMaker(config, memory).contexts(samples).items()}
    rows, segment, time = b["rows"], b["segment"], b["time"]
    n = rows.shape[1]
    # the first version's forward, written out: every row, padded, causal mask
    x = model.step_mlp((model.token(rows) + model.slot).reshape(16, n, -1))
    x = x + model.time(time) + model.segment(segment)
    causal = torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
    hidden = model.transformer(x, mask=causal, is_causal=True)
    cells = b["goal_cells"]
    expected = model.head(hidden + model.target_embed(model._target(hidden, cells, 1.0)))
    real = ~b["pad"]
    got, got_hidden = model.forward_with_hidden(rows, segment, time, b["pad"], cells, 1.0)
    assert torch.allclose(got[real], expected[real], atol=1e-5)
    assert torch.allclose(got_hidden[real], hidden[real], atol=1e-5)
    current = real & (segment == 0)
    logits, _ = model.packed(rows, segment, time, b["pad"], current, cells, 1.0)
    assert torch.allclose(logits, expected[current], atol=1e-5)


def test_array_oracle_draws_what_the_oracle_retriever_draws():
    """Same rules, same rates: relevant first, hard distractors at the retriever's rate."""
    from agents.bc.batch import ArrayOracle
    from agents.memory import RetrievalQuery, make_retriever

    pool = generate_dataset(episodes=300, seed=0, **TINY_WORLD)
    memory = EpisodicMemory(n_object_types=4)
    memory.extend(pool)
    retriever = make_retriever("oracle", memory, n_relevant=1, n_distractors=2)
    oracle = ArrayOracle(retriever)
    ep = pool[0]
    maze, goal = int(ep.maze), int(ep.goals[-1])
    relevant = set(memory.relevant_ids(maze, goal).tolist()) - {0}
    same = set(memory.same_maze_without(maze, goal).tolist())
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(1)
    query = RetrievalQuery(maze=maze, goal=goal, exclude=(0,))
    stats = {"array": [], "retriever": []}
    for _ in range(600):
        for name, ids in (
            ("array", oracle.pool_ids(rng_a, 3, maze, 0, goal, 0)),
            ("retriever", retriever.retrieve_ids(query, k=3, rng=rng_b)),
        ):
            ids = ids.tolist()
            assert len(ids) == len(set(ids)) == 3 and 0 not in ids
            assert len(relevant & set(ids)) == 1
            stats[name].append(len(same & set(ids)))
    # one hard (same-maze) distractor of two on average, at p = 0.5 each
    assert abs(np.mean(stats["array"]) - np.mean(stats["retriever"])) < 0.1
    assert abs(np.mean(stats["array"]) - 1.0) < 0.1
