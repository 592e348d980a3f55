"""EpisodicMemory, its FAISS indexes, retrieval modes, persistence and process safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from agents.memory import (
    DefaultFeaturizer,
    EpisodicMemory,
    FileFormatError,
    IndexParams,
    RetrievalQuery,
    _faiss,
    make_retriever,
    trim,
    trim_steps,
    worker_context,
)
from latent_gridworld.core import world
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.datasets import (
    EpisodeArrays,
    expert_episode,
    generate_dataset,
    read_arrays,
    write_arrays,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def train():
    return generate_dataset(episodes=600, seed=0, icl_share=0.3)


@pytest.fixture(scope="module")
def held_out():
    return generate_dataset(episodes=150, seed=1)


@pytest.fixture(scope="module")
def memory(train):
    m = EpisodicMemory(n_object_types=8)
    m.extend(train)
    return m


def exact_topk(keys: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = queries.astype(np.float64) @ keys.T.astype(np.float64)
    ids = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, ids, axis=1), ids


def tie_aware_recall(keys, queries, ids, k):
    """Share of returned ids whose exact score reaches the exact k-th best (ties count)."""
    exact_scores, _ = exact_topk(keys, queries, k)
    kth = exact_scores[:, -1:]
    got = np.einsum("qd,qkd->qk", queries.astype(np.float64), keys[ids].astype(np.float64))
    return float(((got >= kth - 1e-5) & (ids >= 0)).mean())


# ---------------------------------------------------------------- search correctness


def test_flat_search_equals_exact_numpy(memory, held_out):
    queries = DefaultFeaturizer(8).episode_keys(held_out)
    scores, ids = memory.search(queries, k=8)
    exact_scores, _ = exact_topk(memory.keys, queries, 8)
    assert memory.built_index == "flat"
    np.testing.assert_allclose(scores, exact_scores, rtol=0, atol=1e-5)
    # the ids FAISS returned score exactly what numpy says they score
    got = np.einsum("qd,qkd->qk", queries, memory.keys[ids])
    np.testing.assert_allclose(got, scores, atol=1e-5)
    # with unique keys the ids match exactly as well
    rng = np.random.default_rng(0)
    unique = rng.standard_normal((500, 16)).astype(np.float32)
    m = EpisodicMemory(8, key_dim=16, index="flat")
    m.extend(list(memory.episodes(range(500))), keys=unique)
    q = rng.standard_normal((20, 16)).astype(np.float32)
    s, i = m.search(q, 8)
    es, ei = exact_topk(unique, q, 8)
    np.testing.assert_array_equal(i, ei)
    np.testing.assert_allclose(s, es, atol=1e-4)


@pytest.mark.parametrize(
    "index,params",
    # 6 of 15 lists: a real approximate search at this small size (the default scans all)
    [("ivf", IndexParams(nlist=15, nprobe=6)), ("hnsw", IndexParams())],
)
def test_approximate_index_recall_at_8_on_real_keys(train, held_out, index, params):
    m = EpisodicMemory(8, index=index, params=params)
    m.extend(train)
    assert m.built_index == index
    if index == "ivf":
        assert m.ivf_lists == (15, 6)
    queries = DefaultFeaturizer(8).query_keys(
        [RetrievalQuery(maze=e.maze, goal=int(e.goal_sequence[-1]), history=e) for e in held_out]
    )
    _, ids = m.search(queries, 8)
    assert tie_aware_recall(m.keys, queries, ids, 8) >= 0.95


def test_auto_index_switches_to_ivf_above_threshold(train):
    m = EpisodicMemory(8, params=IndexParams(flat_threshold=400))
    m.extend(train[:300])
    assert m.built_index == "flat"
    m.extend(train[300:])
    assert m.built_index == "ivf"
    assert len(m) == 600


def test_empty_memory_and_k_larger_than_memory(train):
    m = EpisodicMemory(8)
    s, i = m.search(np.ones(m.key_dim, np.float32), 5)
    assert s.shape == (0,) and i.shape == (0,)
    assert make_retriever("oracle", m).retrieve(RetrievalQuery(maze=0, goal=1), k=3) == []
    assert make_retriever("knn", m).retrieve(RetrievalQuery(maze=0, goal=1), k=3) == []
    m.extend(train[:4])
    s, i = m.search(m.keys[0], 10)
    assert sorted(i.tolist()) == [0, 1, 2, 3]


def test_bad_queries_name_the_problem(memory):
    with pytest.raises(ValueError, match=r"shape \(128,\) or \(n, 128\)"):
        memory.search(np.ones(7, np.float32), 3)
    with pytest.raises(ValueError, match="float array"):
        memory.search(np.ones(128, np.int64), 3)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        memory.search(np.ones(128, np.float32), 0)
    with pytest.raises(ValueError, match="NaN"):
        memory.search(np.full(128, np.nan, np.float32), 3)
    with pytest.raises(ValueError, match="unknown retrieval mode 'oracel'; valid: oracle, knn"):
        make_retriever("oracel", memory)
    with pytest.raises(ValueError, match="unknown index 'ivfpq'"):
        EpisodicMemory(8, index="ivfpq")
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        EpisodicMemory(8, threads=0)
    with pytest.raises(ValueError, match="6 object types; this memory stores 8"):
        memory.extend(generate_dataset(episodes=1, seed=0, n_object_types=6))
    with pytest.raises(ValueError, match="has no featurizer"):
        EpisodicMemory(8, key_dim=4).add(memory[0])


# ---------------------------------------------------------------- storage


def test_extend_references_dataset_arrays_and_add_matches_extend(train, memory):
    assert np.shares_memory(memory[5].views, train.views)
    assert memory[5].views.dtype == np.uint8 and memory[5].actions.dtype == np.uint8
    one_by_one = EpisodicMemory(8)
    for e in train[:40]:
        one_by_one.add(e)
    assert len(one_by_one) == 40
    np.testing.assert_array_equal(one_by_one.keys, memory.keys[:40])
    for i in (0, 17, 39):
        assert_same_episode(one_by_one[i], train[i])


def assert_same_episode(a, b):
    for name in ("views", "goals", "positions", "visible", "actions"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    for name in ("maze", "start", "split", "success", "optimal_steps"):
        assert getattr(a, name) == getattr(b, name), name


# ---------------------------------------------------------------- retrieval


def test_relevant_ids_equal_brute_force(memory, train):
    for maze in range(16):
        for goal in range(8):
            expected = np.flatnonzero((train.maze == maze) & train.seen[:, goal])
            np.testing.assert_array_equal(memory.relevant_ids(maze, goal), expected)
            expected = np.flatnonzero((train.maze == maze) & ~train.seen[:, goal])
            np.testing.assert_array_equal(memory.same_maze_without(maze, goal), expected)


def test_oracle_always_includes_a_relevant_episode_for_latent_tasks(memory):
    config = WorldConfig(split="latent")
    retriever = make_retriever("oracle", memory, n_relevant=1, n_distractors=2)
    rng = np.random.default_rng(0)
    checked = 0
    for maze_id in range(config.n_mazes):
        maze = world.build_maze(config, maze_id)
        for goal in maze.latent_types:
            if not memory.relevant_ids(maze_id, int(goal)).size:
                continue  # the target was never seen in the stored data
            for start in maze.held_out_starts[:5]:
                query = RetrievalQuery(maze=maze_id, goal=int(goal))
                ids = retriever.retrieve_ids(query, k=3, rng=rng)
                relevant = (memory.maze_ids[ids] == maze_id) & memory.seen[ids, goal]
                assert len(ids) == 3 and relevant.sum() == 1, (maze_id, goal, tuple(start))
                checked += 1
    assert checked >= 16 * 5  # every latent pair of the pool was seen in training data


def test_oracle_distractors_and_control(memory):
    rng = np.random.default_rng(1)
    maze, goal = 3, int(world.build_maze(WorldConfig(), 3).latent_types[0])
    control = make_retriever("oracle", memory, n_relevant=0, n_distractors=4)
    for _ in range(20):
        ids = control.retrieve_ids(RetrievalQuery(maze=maze, goal=goal), k=4, rng=rng)
        assert len(set(ids.tolist())) == 4
        assert not ((memory.maze_ids[ids] == maze) & memory.seen[ids, goal]).any()
    same = make_retriever("oracle", memory, n_distractors=2, same_maze_distractors=1.0)
    ids = same.retrieve_ids(RetrievalQuery(maze=maze, goal=goal), k=3, rng=rng)
    assert (memory.maze_ids[ids] == maze).all()
    other = make_retriever("oracle", memory, n_distractors=2, same_maze_distractors=0.0)
    ids = other.retrieve_ids(RetrievalQuery(maze=maze, goal=goal), k=3, rng=rng)
    assert (memory.maze_ids[ids] == maze).sum() == 1
    # k caps the total, relevant kept first; exclude is honoured
    relevant = memory.relevant_ids(maze, goal)
    one = make_retriever("oracle", memory).retrieve_ids(
        RetrievalQuery(maze=maze, goal=goal, exclude=tuple(relevant[1:].tolist())), k=1, rng=rng
    )
    assert one.tolist() == [relevant[0]]


def test_oracle_other_goal_relevant_episodes_only_passed_the_goal(memory, train):
    rng = np.random.default_rng(2)
    retriever = make_retriever("oracle", memory, n_distractors=0, relevant_goal="other")
    checked = 0
    for maze in range(16):
        for goal in world.build_maze(WorldConfig(), maze).explicit_types:
            goal = int(goal)
            passed = [
                i for i in memory.relevant_ids(maze, goal) if goal not in memory[int(i)].goals
            ]
            ids = retriever.retrieve_ids(RetrievalQuery(maze=maze, goal=goal), k=1, rng=rng)
            if passed:  # seen on the way to another goal
                assert int(ids[0]) in passed
                checked += 1
            else:  # nothing passed it: fall back to any relevant episode
                assert int(ids[0]) in memory.relevant_ids(maze, goal)
    assert checked >= 16
    with pytest.raises(ValueError, match="unknown relevant_goal 'same'; valid: any, other"):
        make_retriever("oracle", memory, relevant_goal="same")


def test_oracle_handles_unbounded_maze_ids():
    config = WorldConfig()
    rng = np.random.default_rng(0)
    episodes = []
    for maze_id in (10**6, 10**6 + 1, 2**40):
        maze = world.build_maze(config, maze_id)
        for start in maze.start_cells[:6]:
            goal = int(maze.object_types[0])
            task = world.Task(maze_id, goal, (int(start[0]), int(start[1])))
            episodes.append(expert_episode(config, task, rng))
    m = EpisodicMemory(8)
    m.extend(episodes)
    arrays = EpisodeArrays.from_episodes(episodes)
    for maze_id in (10**6, 2**40, 5):
        for goal in range(8):
            expected = np.flatnonzero((arrays.maze == maze_id) & arrays.seen[:, goal])
            np.testing.assert_array_equal(m.relevant_ids(maze_id, goal), expected)


def test_knn_retrieves_same_maze_episodes_that_saw_the_goal(memory, held_out):
    retriever = make_retriever("knn", memory)
    hits = 0
    for e in held_out:
        goal = int(e.goal_sequence[-1])
        ids = retriever.retrieve_ids(RetrievalQuery(maze=-1, goal=goal, history=e), k=1)
        hits += bool(memory.maze_ids[ids[0]] == e.maze and memory.seen[ids[0], goal])
    assert hits / len(held_out) >= 0.9  # measured 199/200; chance is about 1/16
    batch = retriever.retrieve_many(
        [RetrievalQuery(maze=-1, goal=1, history=e) for e in held_out[:5]], k=2
    )
    single = [
        retriever.retrieve(RetrievalQuery(maze=-1, goal=1, history=e), k=2) for e in held_out[:5]
    ]
    assert [[x.start for x in b] for b in batch] == [[x.start for x in s] for s in single]


def test_knn_finds_the_cued_maze_from_the_first_view_of_a_v1_latent_task():
    """World v1's hub looks alike in every maze: the maze cue is what finds the goal's episode."""
    import gymnasium as gym

    from agents.bc.agent import start_episode
    from latent_gridworld.registration import WORLD_V1

    v1 = WorldConfig(**WORLD_V1)
    pool = generate_dataset(episodes=400, seed=0, **WORLD_V1)
    cued = EpisodicMemory.for_world(v1)
    assert cued.featurizer.n_mazes == v1.n_mazes  # built from the world's own cue
    cued.extend(pool)
    uncued = EpisodicMemory(n_object_types=v1.n_object_types)
    uncued.extend(pool)
    env = gym.make("LatentGridworld/ASCII-v1", split="latent")
    found = {"cued": 0, "uncued": 0}
    tasks = 0
    for i in range(60):
        obs, info = env.reset(seed=i)
        history = start_episode(obs, info)
        query = RetrievalQuery(maze=history.maze, goal=int(info["goal_type"]), history=history)
        if not len(cued.relevant_ids(history.maze, query.goal)):
            continue  # no stored episode saw this goal in this maze
        tasks += 1
        for name, memory in (("cued", cued), ("uncued", uncued)):
            top = int(make_retriever("knn", memory).retrieve_ids(query, k=1)[0])
            if name == "cued":  # unit keys, cue weight 2: the cued maze always ranks first
                assert memory.maze_ids[top] == history.maze
            found[name] += bool(
                memory.maze_ids[top] == history.maze and memory.seen[top, query.goal]
            )
    # measured on 2,000 pool episodes: 200 / 200 and 0 / 200 (chance: about 1 in 16 mazes)
    assert tasks >= 20 and found["cued"] >= 0.9 * tasks and found["uncued"] <= 0.2 * tasks
    # a fresh maze reads the shared cue n_mazes, which no pool episode has
    fresh = cued.featurizer.query_keys([RetrievalQuery(maze=10**6, goal=0)])
    assert fresh[0, v1.n_mazes] > 0 and not fresh[0, : v1.n_mazes].any()


class SeenOnly:
    """A custom featurizer: keys are the objects seen; queries the goal."""

    dim = 8

    def episode_keys(self, episodes):
        return episodes.seen.astype(np.float32)

    def query_keys(self, queries):
        out = np.zeros((len(queries), 8), np.float32)
        for i, q in enumerate(queries):
            out[i, q.goal] = 1
        return out


def test_knn_with_a_pluggable_featurizer_keeps_its_own_index_in_step(train):
    m = EpisodicMemory(8)
    m.extend(train[:100])
    retriever = make_retriever("knn", m, featurizer=SeenOnly())
    ids = retriever.retrieve_ids(RetrievalQuery(maze=0, goal=5), k=4)
    assert m.seen[ids, 5].all()
    m.extend(train[100:200])  # the retriever indexes the new episodes on its next call
    ids = retriever.retrieve_ids(RetrievalQuery(maze=0, goal=5), k=200)
    assert len(ids) == 200 and m.seen[ids[: m.seen[:, 5].sum()], 5].all()


def test_none_retrieves_nothing(memory):
    assert make_retriever("none", memory).retrieve(RetrievalQuery(maze=0, goal=0)) == []


def test_trim_keeps_object_visible_steps_and_first_sightings(train):
    for e in train[:50]:
        t = trim(e, max_steps=5)
        visible_steps = np.flatnonzero(e.visible.any(axis=1))
        assert len(t.views) == min(5, len(visible_steps))
        assert t.visible.any(axis=1).all()
        assert len(t.actions) == len(t.views) - 1
        seen_types = np.flatnonzero(e.seen_objects)
        if len(seen_types) <= 5:
            assert (t.visible.any(axis=0) == e.seen_objects).all()
        keep = trim_steps(e.visible, 5)
        assert np.isin(keep, visible_steps).all() and (np.diff(keep) > 0).all()
        np.testing.assert_array_equal(t.views, e.views[keep])
        np.testing.assert_array_equal(t.actions, e.actions[keep[:-1]])
    e = train[0]
    assert len(trim(e, 3, prefer="recent").views) == 3
    np.testing.assert_array_equal(trim(e, 3, prefer="recent").views, e.views[-3:])
    with pytest.raises(
        ValueError, match="unknown prefer 'seen'; valid: visible, goal, route, recent, uniform"
    ):
        trim(e, 3, prefer="seen")
    with pytest.raises(ValueError, match='prefer="goal" needs the goal object type'):
        trim(e, 3, prefer="goal")


def test_goal_trim_keeps_the_steps_that_show_the_goal_first(train):
    checked = 0
    for e in train[:80]:
        for goal in np.flatnonzero(e.seen_objects):
            keep = trim_steps(e.visible, 4, "goal", int(goal))
            shows_goal = np.flatnonzero(e.visible[:, goal])
            assert (np.diff(keep) > 0).all() and e.visible[keep].any(axis=1).all()
            # as many goal sightings as fit, the rest filled with other object sightings
            assert e.visible[keep, goal].sum() == min(4, len(shows_goal))
            assert len(keep) == min(4, int(e.visible.any(axis=1).sum()))
            checked += 1
    assert checked > 50


def test_route_trim_keeps_the_walk_around_the_goal_sighting(train):
    checked = 0
    for e in train[:200]:
        for goal in np.flatnonzero(e.visible.any(axis=0)):
            keep = trim_steps(e.visible, 6, "route", int(goal))
            shows_goal = np.flatnonzero(e.visible[:, goal])
            assert (np.diff(keep) > 0).all() and len(keep) == min(6, len(e.visible))
            # every sighting fits, or the kept steps are all sightings
            assert set(shows_goal.tolist()) <= set(keep.tolist()) or e.visible[keep, goal].all()
            # no dropped step lies nearer in time to a sighting than a kept one
            gap = np.abs(np.arange(len(e.visible))[:, None] - shows_goal[None, :]).min(axis=1)
            dropped = np.setdiff1d(np.arange(len(e.visible)), keep)
            if len(dropped):
                assert gap[dropped].min() >= gap[keep].max()
            checked += 1
    assert checked > 50
    never = np.zeros((5, 3), dtype=bool)
    never[2, 1] = True  # goal 0 never in view: trimmed as "visible"
    assert trim_steps(never, 3, "route", 0).tolist() == trim_steps(never, 3, "visible").tolist()


# ---------------------------------------------------------------- persistence


@pytest.mark.parametrize("index", ["flat", "ivf"])
def test_save_load_gives_identical_search_and_episodes(tmp_path, train, held_out, index):
    m = EpisodicMemory(8, index=index, params=IndexParams(nlist=16))
    m.extend(train[:300])
    m.add(held_out[0])  # a pending single add is saved too
    path = tmp_path / "memory.npz"
    m.save(path)
    loaded = EpisodicMemory.load(path)
    assert len(loaded) == len(m) and loaded.built_index == m.built_index
    queries = DefaultFeaturizer(8).episode_keys(held_out)
    for a, b in zip(m.search(queries, 8), loaded.search(queries, 8)):
        np.testing.assert_array_equal(a, b)
    for i in range(len(m)):
        assert_same_episode(loaded[i], m[i])
    q = RetrievalQuery(maze=2, goal=3)
    assert (
        make_retriever("oracle", m).retrieve_ids(q, 3, 7).tolist()
        == make_retriever("oracle", loaded).retrieve_ids(q, 3, 7).tolist()
    )
    # plain numpy reads it without unpickling anything
    with np.load(path, allow_pickle=False) as npz:
        assert npz["episode_views"].dtype == np.uint8
        assert all(npz[name].dtype != object for name in npz.files)


def test_corrupted_truncated_and_mismatched_files_are_refused(tmp_path, train):
    m = EpisodicMemory(8)
    m.extend(train[:50])
    good = tmp_path / "m.npz"
    m.save(good)
    data = good.read_bytes()

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match="truncated or corrupted"):
        EpisodicMemory.load(truncated)

    corrupted = tmp_path / "corrupted.npz"
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF
    corrupted.write_bytes(bytes(flipped))
    with pytest.raises(FileFormatError, match="corrupted"):
        EpisodicMemory.load(corrupted)

    header, arrays = read_arrays(good, "latent-gridworld-memory", (1,))
    other = tmp_path / "v99.npz"
    write_arrays(other, {**header, "version": 99}, arrays)
    with pytest.raises(FileFormatError, match="version 99; this package reads versions"):
        EpisodicMemory.load(other)

    with pytest.raises(FileFormatError, match="key dimension 128, expected 64"):
        EpisodicMemory.load(good, key_dim=64)
    with pytest.raises(FileFormatError, match="8 object types, expected 6"):
        EpisodicMemory.load(good, n_object_types=6)

    wrong = tmp_path / "wrong_dim.npz"
    bad_header = json.loads(json.dumps(header))
    bad_header["key_dim"] = 64
    write_arrays(wrong, bad_header, arrays)
    with pytest.raises(FileFormatError, match="key dimension"):
        EpisodicMemory.load(wrong)

    with pytest.raises(FileFormatError, match="not a 'latent-gridworld-memory' file"):
        from latent_gridworld.datasets import save_dataset

        save_dataset(generate_dataset(episodes=2, seed=0), tmp_path / "d.npz")
        EpisodicMemory.load(tmp_path / "d.npz")


def test_save_refuses_to_overwrite_unless_asked(tmp_path, train):
    m = EpisodicMemory(8)
    m.extend(train[:20])
    path = tmp_path / "runs" / "memory.npz"  # the folder is created
    m.save(path)
    before = path.read_bytes()
    m.add(train[20])
    with pytest.raises(FileExistsError, match=r"memory.npz already exists; pass overwrite=True"):
        m.save(path)
    assert path.read_bytes() == before
    m.save(path, overwrite=True)
    assert len(EpisodicMemory.load(path)) == 21
    with pytest.raises(IsADirectoryError, match="runs is a folder; give a file path"):
        m.save(tmp_path / "runs")
    assert sorted(p.name for p in path.parent.iterdir()) == ["memory.npz"]  # no temp files


def test_add_refuses_episodes_of_another_view_size(tmp_path, train):
    m = EpisodicMemory(8)
    m.extend(train[:10])
    full = generate_dataset(episodes=2, seed=0, full_view=True)  # 13x13 views
    with pytest.raises(
        ValueError, match=r"episode views are 13x13 but this memory stores 5x5 views"
    ):
        m.add(full[0])
    with pytest.raises(ValueError, match=r"episode views are 13x13 but this memory stores 5x5"):
        m.extend(full)
    assert len(m) == 10 and len(m.keys) == 10  # nothing half-added
    m.save(tmp_path / "m.npz")  # still saves (the raw numpy error came from here)
    loaded = EpisodicMemory.load(tmp_path / "m.npz")
    with pytest.raises(ValueError, match=r"episode views are 13x13 but this memory stores 5x5"):
        loaded.add(full[0])
    other = EpisodicMemory(8)
    other.add(full[0])  # an empty memory takes any size: the first episode fixes it
    with pytest.raises(ValueError, match=r"episode views are 5x5 but this memory stores 13x13"):
        other.add(train[0])


# ---------------------------------------------------------------- threads and processes


def test_thread_setting_reaches_faiss(train):
    m = EpisodicMemory(8, threads=3)
    m.extend(train[:10])
    m.search(m.keys[0], 2)
    assert _faiss.faiss.omp_get_max_threads() == 3
    one = EpisodicMemory(8, threads=1)
    one.extend(train[:10])
    one.search(one.keys[0], 2)
    assert _faiss.faiss.omp_get_max_threads() == 1


def _run(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )


def test_import_sets_passive_wait_policy_and_one_thread():
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    out = _run(
        """
        import os
        import agents.memory
        from agents.memory._faiss import faiss
        print(os.environ["OMP_WAIT_POLICY"], faiss.omp_get_max_threads())
        """,
        env,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["PASSIVE", "1"]


def test_forked_child_after_threaded_use_gets_an_error_not_a_hang():
    out = _run(
        """
        import multiprocessing as mp
        from agents.memory import EpisodicMemory
        from latent_gridworld.datasets import generate_dataset

        m = EpisodicMemory(8, threads=2)
        m.extend(generate_dataset(episodes=20, seed=0))
        m.search(m.keys[:4], 3)

        def child(q):
            try:
                m.search(m.keys[0], 3)
                q.put("searched")
            except RuntimeError as err:
                q.put(str(err))

        q = mp.get_context("fork").Queue()
        p = mp.get_context("fork").Process(target=child, args=(q,))
        p.start()
        print(q.get(timeout=60))
        p.join(30)
        """
    )
    assert out.returncode == 0, out.stderr
    assert "fork()ed child" in out.stdout and "worker_context()" in out.stdout


def test_forked_child_of_a_single_threaded_parent_may_search():
    out = _run(
        """
        import multiprocessing as mp
        from agents.memory import EpisodicMemory
        from latent_gridworld.datasets import generate_dataset

        m = EpisodicMemory(8, threads=1)
        m.extend(generate_dataset(episodes=20, seed=0))
        expected = m.search(m.keys[0], 3)[1].tolist()

        def child(q):
            q.put(m.search(m.keys[0], 3)[1].tolist())

        ctx = mp.get_context("fork")
        q = ctx.Queue()
        p = ctx.Process(target=child, args=(q,))
        p.start()
        print(q.get(timeout=60) == expected)
        p.join(30)
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True"]


def _worker_search(args):
    path, memory, queries = args
    loaded = EpisodicMemory.load(path)
    return loaded.search(queries, 5), memory.search(queries, 5)


def test_spawned_worker_searches_like_the_parent(tmp_path, train):
    m = EpisodicMemory(8, threads=2)
    m.extend(train[:200])
    queries = m.keys[:6].copy()
    expected = m.search(queries, 5)
    path = tmp_path / "m.npz"
    m.save(path)
    ctx = worker_context()
    assert ctx.get_start_method() in ("forkserver", "spawn")
    with ctx.Pool(1) as pool:
        from_file, pickled = pool.map(_worker_search, [(str(path), m, queries)])[0]
    for got in (from_file, pickled):
        np.testing.assert_array_equal(got[1], expected[1])
        np.testing.assert_allclose(got[0], expected[0])


def test_ivf_nprobe_follows_the_scan_budget_as_the_store_grows():
    episodes = generate_dataset(episodes=3000, seed=4)
    m = EpisodicMemory(8, index="ivf", params=IndexParams(nlist=64, ivf_scan=1000))
    m.extend(episodes)
    assert m.ivf_lists == (64, 22)  # ceil(1000 * 64 / 3000) lists: about 1000 keys
    m.extend(episodes)  # the store doubled: fewer lists hold 1000 keys
    assert m.ivf_lists == (64, 16)  # ceil(1000 * 64 / 6000) = 11, floor of 16 lists
    assert EpisodicMemory(8, index="flat").ivf_lists is None
