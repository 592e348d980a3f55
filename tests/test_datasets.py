"""Expert datasets: generation, exact round trip, reproducibility, metadata, coverage, CLI."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import latent_gridworld  # noqa: F401  (registers the envs)
from agents.cli import main as cli_main
from latent_gridworld import datasets
from latent_gridworld.core import world
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.datasets import (
    FileFormatError,
    coverage,
    generate_dataset,
    load_dataset,
    main,
    save_dataset,
    write_arrays,
)
from latent_gridworld.episode import record_episode
from latent_gridworld.expert import expert_action

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dataset():
    return generate_dataset(episodes=300, split="train", icl_share=0.5, seed=3)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_is_exact_for_every_array(tmp_path, dataset):
    path = tmp_path / "d.npz"
    digest = save_dataset(dataset, path)
    loaded = load_dataset(path)
    assert digest == loaded.info.content_sha256 == dataset.info.content_sha256
    assert loaded.info == dataset.info
    for name, array in dataset.columns().items():
        got = loaded.columns()[name]
        assert got.dtype == array.dtype and got.shape == array.shape, name
        np.testing.assert_array_equal(got, array, err_msg=name)
    for i in (0, 123, 299):
        a, b = dataset[i], loaded[i]
        for name in ("views", "goals", "positions", "visible", "actions"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert (a.maze, a.start, a.split, a.success, a.optimal_steps) == (
            b.maze,
            b.start,
            b.split,
            b.success,
            b.optimal_steps,
        )
    # numpy alone reads the file, without pickle
    with np.load(path, allow_pickle=False) as npz:
        assert npz["views"].dtype == np.uint8 and npz["actions"].dtype == np.uint8
        assert len(npz["offsets"]) == len(dataset) + 1


def test_same_arguments_give_byte_identical_files(tmp_path):
    a, b, c = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    args = ["--episodes", "40", "--icl-share", "0.3", "--seed", "5", "--no-progress"]
    assert main([*args, "--out", str(a)]) == 0
    assert main([*args, "--out", str(b)]) == 0
    assert sha256(a) == sha256(b)
    assert load_dataset(a).info.content_sha256 == load_dataset(b).info.content_sha256
    assert main([*args[:-2], "6", "--no-progress", "--out", str(c)]) == 0
    assert load_dataset(c).info.content_sha256 != load_dataset(a).info.content_sha256


def test_episodes_match_the_env_played_by_the_expert(dataset):
    env = gym.make("LatentGridworld/ASCII-v0")
    for e in dataset[:40]:
        if len(e.goal_sequence) > 1:
            continue  # the env draws an ICL second goal from its own generator
        options = {"maze": e.maze, "goal": int(e.goals[0]), "start": e.start, "icl": False}
        played = record_episode(env, lambda env, obs: expert_action(env), seed=0, options=options)
        for name in ("views", "goals", "positions", "visible", "actions"):
            np.testing.assert_array_equal(getattr(played, name), getattr(e, name), err_msg=name)
        assert played.optimal_steps == e.optimal_steps and played.success


def test_expert_and_played_episodes_keep_the_placement():
    # a placement variant moves the objects: every recorder must keep which one it played
    config = WorldConfig()
    maze = world.build_maze(config, 3, 2)
    goal = int(maze.explicit_types[0])
    start = tuple(int(x) for x in maze.starts_for("train", goal)[0])
    task = world.Task(3, goal, start, False, 2)
    expert = datasets.expert_episode(config, task, np.random.default_rng(0))
    options = {"maze": 3, "goal": goal, "start": start, "icl": False, "placement": 2}
    env = gym.make("LatentGridworld/ASCII-v0")
    played = record_episode(env, lambda env, obs: expert_action(env), seed=0, options=options)
    for name in ("views", "goals", "positions", "visible", "actions"):
        a, b = getattr(played, name), getattr(expert, name)
        assert a.dtype == b.dtype and (a == b).all(), name
    assert played.placement == expert.placement == 2 and played.start == expert.start == start
    cell = tuple(int(x) for x in maze.object_cells[1])
    walked, _ = datasets.expert_cell_episode(
        config, maze, start, cell, goal, np.random.default_rng(0)
    )
    assert walked.placement == 2 and walked.success and walked.start == start


def test_metadata_splits_and_icl_episodes(dataset):
    config = dataset.config
    assert dataset.info.split == "train" and set(e.split for e in dataset) == {"train"}
    assert dataset.success.all() and (dataset.lengths == dataset.optimal_steps).all()
    for e in dataset:
        maze = world.build_maze(config, e.maze)
        assert e.maze < config.n_mazes
        goals = e.goal_sequence
        assert not np.isin(goals, maze.latent_types).any()  # latent pairs are never train goals
        assert tuple(e.start) in {tuple(s) for s in maze.train_starts}
        if len(goals) == 2:  # the second goal was seen before it was announced
            switch = int(np.flatnonzero(e.goals == goals[1])[0])
            assert e.visible[:switch, goals[1]].any()
    assert 0.2 < dataset.icl.mean() < 0.5  # asked for 0.5; ends early when nothing was seen
    latent = generate_dataset(episodes=30, split="latent", seed=0)
    for e in latent:
        assert int(e.goals[0]) in world.build_maze(config, e.maze).latent_types


def test_coverage_counts_latent_pairs_seen(dataset):
    config = dataset.config
    report = coverage(dataset, config)
    seen_pairs = {(e.maze, t) for e in dataset for t in np.flatnonzero(e.seen_objects)}
    latent = {(m, int(t)) for m in range(16) for t in world.build_maze(config, m).latent_types}
    assert report["latent_pairs"] == len(latent) == 16
    assert report["latent_pairs_seen"] == len(latent & seen_pairs)
    assert report["latent_coverage"] == len(latent & seen_pairs) / 16
    small = generate_dataset(episodes=3, seed=0)
    few = coverage(small, small.config)
    assert few["latent_pairs_seen"] < 16 and few["episodes"] == 3


def test_cli_reports_and_rejects_bad_input(tmp_path, capsys):
    out = tmp_path / "d.npz"
    argv = ["generate", "--env", "Pixel", "--episodes", "25", "--split", "new_maze", "--seed", "1"]
    assert cli_main([*argv, "--no-progress", "--out", str(out), "--kw", "size=11"]) == 0
    text = capsys.readouterr().out
    assert "25 episodes" in text and "content sha256" in text and "latent (maze, object)" in text
    loaded = load_dataset(out)
    assert loaded.info.env == "Pixel" and loaded.info.env_kwargs == {"size": 11}
    assert loaded.views.shape[1:] == (5, 5) and (loaded.maze >= 16).all()
    bad = tmp_path / "bad.npz"
    assert main(["--out", str(bad), "--kw", "sise=11", "--no-progress"]) == 2
    assert "unknown env kwarg(s) ['sise']" in capsys.readouterr().err
    assert main(["--out", str(bad), "--env", "Atari", "--no-progress"]) == 2
    assert "unknown env 'Atari'; valid: ASCII, Pixel" in capsys.readouterr().err
    with pytest.raises(ValueError, match="episodes must be a positive integer"):
        generate_dataset(episodes=0)


# ---------------------------------------------------------------- versioned datasets (issue 15)

V1 = "LatentGridworld/ASCII-v1"


def test_a_v1_dataset_is_the_registered_v1_world(tmp_path, capsys):
    path = tmp_path / "v1.npz"
    assert main(["--env", V1, "--episodes", "40", "--no-progress", "--out", str(path)]) == 0
    assert f"env {V1}, content sha256" in capsys.readouterr().out
    ds = load_dataset(path, env=V1)
    registered = gym.make(V1).unwrapped.config
    assert ds.info.env_id == V1 and ds.info.env == "ASCII"
    assert ds.config == registered.replace(split="train", icl_share=0.0)
    assert ds.config != WorldConfig()  # not the v0 defaults the ids once fell back to
    env = gym.make(V1)  # and its episodes are what the v1 env plays
    for e in ds[:10]:
        options = {"maze": e.maze, "goal": int(e.goals[0]), "start": e.start, "icl": False}
        played = record_episode(env, lambda env, obs: expert_action(env), seed=0, options=options)
        for name in ("views", "goals", "positions", "visible", "actions"):
            np.testing.assert_array_equal(getattr(played, name), getattr(e, name), err_msg=name)
    # --kw overrides one field of the registered world and keeps the id
    small = generate_dataset(env="ASCII-v1", episodes=3, seed=0, n_mazes=8)
    assert small.info.env_id == V1 and small.config == ds.config.replace(n_mazes=8)


def test_loading_a_dataset_of_another_id_names_both(tmp_path, dataset):
    v0, v1 = tmp_path / "v0.npz", tmp_path / "v1.npz"
    save_dataset(dataset, v0)
    save_dataset(generate_dataset(env=V1, episodes=3, seed=0), v1)
    assert dataset.info.env_id == "LatentGridworld/ASCII-v0"
    assert load_dataset(v0, env="ascii").info == dataset.info  # ASCII is the v0 id
    with pytest.raises(ValueError) as err:
        load_dataset(v0, env=V1)
    assert str(err.value) == f"{v0} is a dataset of LatentGridworld/ASCII-v0, not of {V1}"
    with pytest.raises(ValueError, match=r"v1.npz is a dataset of LatentGridworld/ASCII-v1, not "):
        load_dataset(v1, env="ASCII")
    with pytest.raises(ValueError, match=r"of LatentGridworld/ASCII-v1, not of .*Pixel-v1"):
        load_dataset(v1, env="LatentGridworld/Pixel-v1")
    with pytest.raises(ValueError, match="unknown env 'ASCII-v9'; valid: ASCII, Pixel, or a"):
        load_dataset(v1, env="ASCII-v9")


def test_a_file_without_an_id_loads_as_before(tmp_path, dataset):
    # written as the package wrote them before ids were recorded: no env_id in the header
    header = {k: v for k, v in datasets.files._info_header(dataset.info).items() if k != "env_id"}
    path = tmp_path / "old.npz"
    write_arrays(path, header, dataset.columns())
    old = load_dataset(path)
    assert old.info.env_id == "" and old.info.world_id == "LatentGridworld/ASCII-v0"
    assert old.config == dataset.config and len(old) == len(dataset)
    assert load_dataset(path, env="LatentGridworld/ASCII-v0").info.env_id == ""
    with pytest.raises(ValueError, match=r"ASCII-v0 \(no id recorded: v0 defaults\), not of"):
        load_dataset(path, env=V1)


def test_damaged_or_foreign_files_are_refused(tmp_path, dataset):
    path = tmp_path / "d.npz"
    save_dataset(dataset, path)
    data = path.read_bytes()
    (tmp_path / "t.npz").write_bytes(data[:-100])
    with pytest.raises(FileFormatError, match="truncated or corrupted"):
        load_dataset(tmp_path / "t.npz")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x01
    (tmp_path / "c.npz").write_bytes(bytes(flipped))
    with pytest.raises(FileFormatError, match="corrupted"):
        load_dataset(tmp_path / "c.npz")
    with zipfile.ZipFile(tmp_path / "plain.npz", "w") as zf:
        zf.writestr("views.npy", b"")
    with pytest.raises(FileFormatError):
        load_dataset(tmp_path / "plain.npz")
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "missing.npz")


def test_importing_datasets_does_not_import_torch_or_faiss():
    code = (
        "import sys, latent_gridworld.datasets; "
        "print('torch' in sys.modules, 'faiss' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_world_config_round_trips_through_info(dataset):
    assert dataset.config == WorldConfig(split="train", icl_share=0.5)


def test_stream_of_fresh_mazes(tmp_path):
    a = generate_dataset(episodes=12, stream=4, icl_share=1.0, seed=0)
    b = generate_dataset(episodes=8, stream=4, seed=0, first_maze=3)
    first = 16 + 256  # n_mazes + n_new_mazes: the stream starts after the held-out mazes
    assert a.maze.tolist() == [first] * 4 + [first + 1] * 4 + [first + 2] * 4
    assert b.maze.tolist() == [first + 3] * 4 + [first + 4] * 4
    assert {e.split for e in a} == {"new_maze"} and a.icl.any()
    path = tmp_path / "s.npz"
    assert main(["--episodes", "8", "--stream", "2", "--no-progress", "--out", str(path)]) == 0
    info = load_dataset(path).info
    assert (info.stream, info.first_maze, info.split) == (2, 0, "new_maze")


@pytest.mark.parametrize("env", ["ASCII", "Pixel"])
def test_minari_export_round_trips_every_array(tmp_path, monkeypatch, env):
    minari = pytest.importorskip("minari")
    from latent_gridworld.datasets import export_minari
    from latent_gridworld.encoders.ascii import codes_to_ascii
    from latent_gridworld.encoders.pixels import codes_to_image

    ds = generate_dataset(env=env, episodes=6, icl_share=1.0, seed=2, size=11)
    export_minari(ds, f"lg/{env.lower()}-v0", root=tmp_path)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    loaded = minari.load_dataset(f"lg/{env.lower()}-v0")
    assert loaded.total_episodes == 6 and loaded.total_steps == int(ds.lengths.sum())
    metadata = list(loaded.storage.get_episode_metadata(range(6)))
    for i, ep in enumerate(loaded.iterate_episodes()):
        e = ds[i]
        if env == "Pixel":
            expected = np.stack([codes_to_image(v, 8) for v in e.views])
            np.testing.assert_array_equal(ep.observations["image"], expected)  # no JPEG loss
        else:
            expected = codes_to_ascii(e.views.reshape(len(e.views), -1))
            np.testing.assert_array_equal(ep.observations["view"], expected)
        np.testing.assert_array_equal(ep.observations["goal"], e.goals)
        np.testing.assert_array_equal(ep.actions, e.actions)
        np.testing.assert_array_equal(ep.infos["visible"], e.visible)
        np.testing.assert_array_equal(ep.infos["position"], e.positions)
        assert ep.rewards.sum() == len(e.goal_sequence) and ep.terminations[-1]
        options = metadata[i]["options"]
        assert (options["maze"], tuple(options["start"]), options["goal"]) == (
            e.maze,
            e.start,
            int(e.goals[0]),
        )
    env_back = loaded.recover_environment()
    assert env_back.unwrapped.config.size == 11


def test_minari_export_of_a_v1_dataset_has_the_cues_its_env_shows(tmp_path, monkeypatch):
    minari = pytest.importorskip("minari")
    from latent_gridworld.datasets import export_minari

    ds = generate_dataset(env=V1, episodes=4, seed=0, position_cue=True)
    export_minari(ds, "lg/ascii-v1-v0", root=tmp_path)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    loaded = minari.load_dataset("lg/ascii-v1-v0")
    assert loaded.spec.env_spec.id == V1
    space = loaded.recover_environment().observation_space
    for i, ep in enumerate(loaded.iterate_episodes()):
        assert set(ep.observations) == set(space.spaces) == {"view", "goal", "maze", "position"}
        np.testing.assert_array_equal(
            ep.observations["maze"], np.full(len(ds[i].views), ds[i].maze)
        )
        np.testing.assert_array_equal(ep.observations["position"], ds[i].positions)


def test_cli_minari_export(tmp_path, monkeypatch):
    minari = pytest.importorskip("minari")
    out = tmp_path / "d.npz"
    argv = ["--episodes", "3", "--no-progress", "--out", str(out)]
    assert main([*argv, "--minari-id", "lg/cli-v0", "--minari-root", str(tmp_path / "m")]) == 0
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "m"))
    assert minari.load_dataset("lg/cli-v0").total_episodes == 3


def test_subset_is_a_view_with_the_same_episodes(dataset):
    part = dataset.subset(10, 20)
    assert len(part) == 10 and np.shares_memory(part.views, dataset.views)
    for i in range(10):
        a, b = part[i], dataset[10 + i]
        for name in ("views", "goals", "positions", "visible", "actions"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert (a.maze, a.start) == (b.maze, b.start)
    assert len(dataset.subset(5, 5)) == 0


def test_expert_table_matches_the_expert_everywhere():
    from latent_gridworld.datasets import expert_table
    from latent_gridworld.expert import expert_action_for_state

    config = WorldConfig()
    for maze_id in (0, 5, 16, 10**6):
        maze = world.build_maze(config, maze_id)
        table = expert_table(maze)
        for k, goal in enumerate(maze.object_types):
            for r, c in maze.start_cells:
                state = world.start_episode(
                    config, world.Task(maze_id, int(goal), (int(r), int(c)))
                )
                assert table[k][r][c] == expert_action_for_state(state)


def test_perturbed_expert_episodes_recover_and_are_labelled_by_the_expert():
    from latent_gridworld.datasets import expert_episode, expert_labels, expert_table

    config = WorldConfig()
    maze = world.build_maze(config, 3)
    task = world.Task(3, int(maze.object_types[0]), tuple(int(x) for x in maze.start_cells[0]))
    clean = expert_episode(config, task, np.random.default_rng(0))
    # no noise draws nothing extra: the same episode as before the option existed
    assert np.array_equal(
        clean.actions, expert_episode(config, task, np.random.default_rng(1)).actions
    )
    assert np.array_equal(expert_labels(config, clean), clean.actions)
    noisy = [expert_episode(config, task, np.random.default_rng(s), noise=0.3) for s in range(20)]
    again = expert_episode(config, task, np.random.default_rng(0), noise=0.3)
    assert np.array_equal(noisy[0].actions, again.actions)  # seeded
    perturbed = 0
    for ep in noisy:
        labels = expert_labels(config, ep)
        off = labels != ep.actions
        perturbed += int(off.sum())
        # every label is the expert's move from where the agent stood, and it still arrives
        table = expert_table(maze)
        k = int(np.flatnonzero(maze.object_types == task.goal)[0])
        assert [table[k][r][c] for r, c in ep.positions[:-1]] == labels.tolist()
        assert ep.success and len(ep) >= clean.optimal_steps
    assert perturbed > 0
    with pytest.raises(ValueError, match="noise must be in"):
        expert_episode(config, task, np.random.default_rng(0), noise=1.0)


def test_expert_walks_to_any_floor_cell_it_is_told():
    from latent_gridworld.datasets import expert_cell_episode

    config = WorldConfig()
    maze = world.build_maze(config, 2)
    start = tuple(int(x) for x in maze.start_cells[0])
    cell = tuple(int(x) for x in maze.start_cells[-1])
    clean, labels = expert_cell_episode(config, maze, start, cell, 7, np.random.default_rng(0))
    assert clean.success and tuple(clean.positions[-1]) == cell
    assert len(clean) == clean.optimal_steps == maze_distance(maze, start, cell)
    assert np.array_equal(labels, clean.actions) and (clean.goals == 7).all()
    noisy, labels = expert_cell_episode(config, maze, start, cell, 7, np.random.default_rng(0), 0.3)
    assert noisy.success and (labels != noisy.actions).any()
    wall = tuple(int(x) for x in np.argwhere(maze.walls)[0])
    with pytest.raises(ValueError, match="must be floor cells"):
        expert_cell_episode(config, maze, start, wall, 7, np.random.default_rng(0))


def maze_distance(maze, start, cell):
    from latent_gridworld.core.maze import distance_map

    return int(distance_map(maze.walls, cell)[start])


# ---------------------------------------------------------------- output files (issue 19)


def test_generate_refuses_to_overwrite_unless_forced(tmp_path, capsys):
    out = tmp_path / "d.npz"
    args = ["--episodes", "5", "--seed", "1", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert main([*args[:3], "2", *args[4:]]) == 2  # another seed, same --out
    err = capsys.readouterr().err
    assert err == f"error: --out: {out} already exists; add --force to replace it\n"
    assert out.read_bytes() == before
    assert main([*args[:3], "2", *args[4:], "--force"]) == 0
    assert load_dataset(out).info.seed == 2
    with pytest.raises(FileExistsError, match=r"d.npz already exists; pass overwrite=True"):
        save_dataset(load_dataset(out), out)
    save_dataset(generate_dataset(episodes=2, seed=9), out, overwrite=True)
    assert load_dataset(out).info.seed == 9


def test_generate_checks_out_before_generating(tmp_path, capsys, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("generated although --out is unusable")

    monkeypatch.setattr(datasets.cli, "generate_dataset", must_not_run)  # what main calls
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("")
    cases = {
        tmp_path / "adir": f"{tmp_path / 'adir'} is a folder; give a file path, e.g. "
        f"{tmp_path / 'adir' / 'out.npz'}",
        tmp_path / "afile" / "d.npz": f"cannot create the folder {tmp_path / 'afile'} for "
        f"{tmp_path / 'afile' / 'd.npz'}: a file is in the way",
    }
    for out, message in cases.items():
        assert main(["--episodes", "5", "--no-progress", "--out", str(out)]) == 2
        captured = capsys.readouterr()
        assert captured.err == f"error: --out: {message}\n" and captured.out == ""


def test_generate_creates_the_folder_of_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--episodes", "3", "--no-progress", "--out", "data/new/train.npz"]) == 0
    assert len(load_dataset(tmp_path / "data/new/train.npz")) == 3


def test_an_interrupted_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "d.npz"
    save_dataset(generate_dataset(episodes=3, seed=0), path)
    before = path.read_bytes()
    real = np.lib.format.write_array
    calls = []

    def interrupted(f, array, **kwargs):
        real(f, array, **kwargs)
        calls.append(1)
        if len(calls) == 4:  # halfway through the arrays: Ctrl-C
            raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_dataset(generate_dataset(episodes=50, seed=1), path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"] and path.read_bytes() == before


def test_sigterm_during_a_save_removes_the_temporary(tmp_path):
    if sys.platform == "win32":
        pytest.skip("POSIX signals")
    script = textwrap.dedent(
        """
        import os, signal, sys
        import numpy as np
        from latent_gridworld import datasets

        real, calls = np.lib.format.write_array, []

        def killed(f, array, **kwargs):
            real(f, array, **kwargs)
            calls.append(1)
            if len(calls) == 4:  # halfway through: e.g. `timeout` or `kill` stops the run
                os.kill(os.getpid(), signal.SIGTERM)

        np.lib.format.write_array = killed
        datasets.save_dataset(datasets.generate_dataset(episodes=50), sys.argv[1])
        print("not reached")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "d.npz")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == -signal.SIGTERM, out.stderr  # still dies of the signal
    assert "not reached" not in out.stdout
    assert list(tmp_path.iterdir()) == []


def test_temporaries_of_killed_writers_are_removed_by_the_next_save(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    dead_pid = int(dead.stdout)  # a process that has exited (SIGKILL leaves such files)
    stale = tmp_path / f"d.npz.tmp{dead_pid}"
    stale.write_bytes(b"\0" * 1000)
    alive = tmp_path / f"d.npz.tmp{os.getppid()}"  # a live process may still be writing
    alive.write_bytes(b"\0")
    other = tmp_path / f"e.npz.tmp{dead_pid}"  # another file's: not ours to judge
    other.write_bytes(b"\0")
    save_dataset(generate_dataset(episodes=2, seed=0), tmp_path / "d.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["d.npz", alive.name, other.name])


def test_expert_walk_is_the_episode_the_world_steps_to():
    """The table walk of expert_episode (no ICL, no noise) equals stepping world.step."""
    from latent_gridworld.core import world
    from latent_gridworld.core.config import WorldConfig
    from latent_gridworld.datasets import expert_episode
    from latent_gridworld.expert import expert_action_for_state

    for kwargs in ({"size": 13}, {"size": 9, "view_size": 3}):
        config = WorldConfig(**kwargs)
        rng = np.random.default_rng(0)
        for split in ("train", "explicit", "new_maze"):
            for _ in range(20):
                task = world.sample_task(config, rng, split)
                episode = expert_episode(config, task, rng)
                state = world.start_episode(config, task)
                cells = [state.position]
                actions = []
                while not state.done:
                    actions.append(expert_action_for_state(state))
                    world.step(config, state, actions[-1], rng)
                    cells.append(state.position)
                assert episode.actions.tolist() == actions
                assert episode.positions.tolist() == [list(c) for c in cells]
                assert episode.success == state.terminated
                assert episode.optimal_steps == state.optimal_steps
                assert (episode.goals == task.goal).all()
