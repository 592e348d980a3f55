"""The play window, driven headless by synthetic key events (SDL dummy driver, see conftest)."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pygame
import pytest

from latent_gridworld import cli, expert_action
from latent_gridworld.cli import parse_kwargs
from latent_gridworld.core.constants import ACTION_DELTAS, OBJECT_BASE
from latent_gridworld.encoders.pixels import tile_atlas
from latent_gridworld.episode import record_episode
from latent_gridworld.play import (
    PlaySession,
    load_recording,
    main,
    save_recording,
)

ARROWS = ["up", "right", "down", "left"]
WASD = ["w", "d", "s", "a"]


def _session(env_id: str = "LatentGridworld/Pixel-v0", seed: int = 0, **kwargs: Any) -> PlaySession:
    record = kwargs.pop("record", None)
    env = gym.make(env_id, **kwargs)
    return PlaySession(env, env_id=env_id, env_kwargs=kwargs, seed=seed, record=record, tile=16)


def _post(*keys: str) -> None:
    for key in keys:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.key.key_code(key)))


def _expert_keys(session: PlaySession) -> list[str]:
    """Keys that walk the expert's path (from a copy of the env), alternating arrows and WASD."""
    clone = copy.deepcopy(session.env.unwrapped)
    keys, done = [], False
    while not done:
        action = expert_action(clone)
        keys.append((ARROWS if len(keys) % 2 else WASD)[action])
        _, _, terminated, truncated, _ = clone.step(action)
        done = terminated or truncated
    return keys


def _open_moves(session: PlaySession, n: int) -> list[int]:
    """``n`` actions that each move the agent (no wall, not onto the goal)."""
    state = copy.deepcopy(session.raw.state)
    actions = []
    for _ in range(n):
        r, c = state.position
        for a, (dr, dc) in enumerate(ACTION_DELTAS):
            nxt = (r + int(dr), c + int(dc))
            if not state.maze.walls[nxt] and nxt != state.goal_cell:
                actions.append(a)
                state.position = nxt
                break
    assert len(actions) == n
    return actions


@pytest.fixture(autouse=True)
def _clean_display() -> Any:
    # a watchdog: if a test's keys were lost, closing the window ends run() instead of hanging
    pygame.display.init()
    pygame.time.set_timer(pygame.QUIT, 20_000, loops=1)
    yield
    pygame.display.init()  # a session may have closed it; cancelling needs it up
    pygame.time.set_timer(pygame.QUIT, 0)
    pygame.display.quit()


def _task(session: PlaySession) -> tuple[int, int, tuple[int, int]]:
    t = session.raw.state.task
    return t.maze, t.goal, t.start


# ---------------------------------------------------------------------------- keys


@pytest.mark.parametrize("env_id", ["LatentGridworld/Pixel-v0", "LatentGridworld/ASCII-v0"])
def test_arrow_and_wasd_keys_walk_to_the_goal(env_id: str) -> None:
    session = _session(env_id, seed=1)
    keys = _expert_keys(session)
    _post(*keys, "up", "q")  # the last move comes after the end: ignored
    assert session.run() == 0
    state = session.raw.state
    assert state.terminated and state.steps == len(keys) == state.optimal_steps
    assert session.message.startswith(f"Goal reached in {len(keys)} steps")
    assert session.outcomes == ["success"] and len(session.episodes[0]) == len(keys)
    session.close()


def test_r_restarts_the_same_task() -> None:
    session = _session(seed=2)
    before = _task(session)
    moves = _open_moves(session, 3)
    _post(*(ARROWS[a] for a in moves))
    _post("r", "q")
    session.run()
    state = session.raw.state
    assert _task(session) == before
    assert state.position == before[2] and state.steps == 0
    assert session.outcomes == ["abandoned"]
    assert session.episodes[0].actions.tolist() == moves
    session.close()


def test_n_draws_the_next_task() -> None:
    session = _session(seed=3)
    first = _task(session)
    _post("n", "q")
    session.run()
    assert _task(session) != first and session.raw.state.steps == 0
    assert session.episodes == []  # nothing was played in the first task
    session.close()


@pytest.mark.parametrize("how", ["q", "escape", "window"])
def test_quit_keys_and_closing_the_window(how: str) -> None:
    session = _session(seed=0)
    if how == "window":
        pygame.event.post(pygame.event.Event(pygame.QUIT))
    else:
        _post(how)
    start = time.perf_counter()
    assert session.run() == 0
    assert not session.running and time.perf_counter() - start < 1.0
    session.close()


def test_idle_window_sleeps_instead_of_busy_looping() -> None:
    session = _session(seed=0)
    quit_event = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_q)
    pygame.time.set_timer(quit_event, 600, loops=1)
    wall, cpu = time.perf_counter(), time.process_time()
    session.run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert wall >= 0.5
    assert cpu < 0.25 * wall, f"{cpu:.3f} s CPU in {wall:.3f} s idle: the loop spins"
    session.close()


# ---------------------------------------------------------------------------- what it shows


def _screen() -> np.ndarray:
    return pygame.surfarray.array3d(pygame.display.get_surface()).transpose(1, 0, 2)


def test_window_shows_full_maze_agent_view_and_goal() -> None:
    session = _session(seed=4)
    screen = _screen()
    m, v, g = session.maze_rect, session.view_rect, session.goal_rect
    frame = session.raw.render_frame(16)
    assert (screen[m.top : m.bottom, m.left : m.right] == frame).all()
    view = session.view_image()
    assert view.shape[0] > session.obs["image"].shape[0]  # enlarged
    assert (screen[v.top : v.top + view.shape[0], v.left : v.left + view.shape[1]] == view).all()
    sprite = tile_atlas(g.height)[OBJECT_BASE + session.raw.state.goal]
    assert (screen[g.top : g.bottom, g.left : g.left + g.height] == sprite).all()
    # a move changes the maze panel (the agent moved) but not the goal sprite
    _post(ARROWS[_open_moves(session, 1)[0]], "q")
    session.run()
    after = _screen()
    assert not (after[m.top : m.bottom, m.left : m.right] == frame).all()
    assert (after[g.top : g.bottom, g.left : g.left + g.height] == sprite).all()
    session.close()


def test_ascii_env_shows_the_characters() -> None:
    session = _session("LatentGridworld/ASCII-v0", seed=0)
    v = session.view_rect
    panel = _screen()[v.top : v.bottom, v.left : v.right]
    # glyphs drawn over the panel background: more than one colour inside it
    assert len(np.unique(panel.reshape(-1, 3), axis=0)) > 2
    session.close()


# ---------------------------------------------------------------------------- recording


def test_recording_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "played.npz"
    session = _session(seed=5, record=path, step_penalty=0.0)
    task = session.raw.state.task
    keys = _expert_keys(session)
    _post(*keys)
    _post("n", "q")
    session.run()
    # the second episode's moves depend on the new task: queue them now and run again
    second = session.raw.state.task
    session.running = True
    moves = _open_moves(session, 3)
    _post(*(WASD[a] for a in moves), "q")
    session.run()
    session.close()

    rec = load_recording(path)
    assert rec.outcomes == ["success", "abandoned"] and rec.icl == [False, False]
    meta = rec.metadata
    assert meta["env_id"] == "LatentGridworld/Pixel-v0" and meta["seed"] == 5
    assert meta["env_kwargs"] == {"step_penalty": 0.0} and meta["config"]["size"] == 13
    assert meta["format"] == "latent-gridworld-play/1" and meta["n_episodes"] == 2

    # the first episode is exactly what record_episode gives for the same task and actions
    env = gym.make("LatentGridworld/Pixel-v0")
    actions = iter(rec.episodes[0].actions.tolist())
    ref = record_episode(
        env,
        lambda e, o: next(actions),
        options={"maze": task.maze, "goal": task.goal, "start": task.start},
    )
    got = rec.episodes[0]
    assert (got.maze, got.start, got.split, got.success) == (ref.maze, ref.start, "train", True)
    assert got.optimal_steps == ref.optimal_steps == len(keys)
    for name in ("views", "goals", "positions", "visible", "actions"):
        a, b = getattr(got, name), getattr(ref, name)
        assert a.dtype == b.dtype and (a == b).all(), name

    ep2 = rec.episodes[1]
    assert ep2.maze == second.maze and ep2.actions.tolist() == moves and not ep2.success
    assert len(ep2.views) == len(moves) + 1


def test_save_and_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no episodes to save"):
        save_recording(tmp_path / "x.npz", [], [], [], {})
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(ValueError, match=r"is not a play recording \(format None"):
        load_recording(other)


# ---------------------------------------------------------------------------- command line


def test_parse_kwargs() -> None:
    assert parse_kwargs(["size=15", "full_view=true", "step_penalty=0.01", "max_steps=none"]) == {
        "size": 15,
        "full_view": True,
        "step_penalty": 0.01,
        "max_steps": None,
    }
    with pytest.raises(ValueError, match=r"--kw expects KEY=VALUE \(e.g. size=15\), got 'size'"):
        parse_kwargs(["size"])
    with pytest.raises(ValueError, match="--kw size given twice"):
        parse_kwargs(["size=9", "size=11"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kw", "size"], "--kw expects KEY=VALUE"),
        (["--kw", "sise=9"], "got an unexpected keyword argument 'sise'; valid: obs_mode"),
        (["--kw", "size=8"], "size must be an odd integer >= 5, got 8"),
        (["--env", "Text"], "unknown --env 'Text'; valid: ASCII, Pixel, or a registered"),
        (["--env", "CartPole-v1"], "unknown --env 'CartPole-v1'"),
        (["--split", "latent", "--kw", "split=train"], "give the split once"),
        (["--tile", "1"], "--tile must be >= 2, got 1"),
    ],
)
def test_main_reports_bad_arguments(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("latent-gridworld play: error:") and message in err


def test_unknown_split_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--split", "bogus"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err


def test_console_script_runs_play_with_kwargs_and_records(tmp_path: Path) -> None:
    path = tmp_path / "cli.npz"
    # the display is up (fixture), so the keys can be queued before main opens its window
    _post("right", "down", "left", "up", "right", "down", "q")
    argv = ["--env", "ascii", "--split", "explicit", "--seed", "7"]
    argv += ["--kw", "size=9", "--kw", "full_view=true", "--record", str(path)]
    assert cli.main(["play", *argv]) == 0
    rec = load_recording(path)
    assert len(rec.episodes) == 1 and rec.outcomes[0] in ("abandoned", "success")
    ep = rec.episodes[0]
    assert ep.split == "explicit" and ep.views.shape[1:] == (9, 9)  # full view of a 9x9 maze
    assert rec.metadata["env_id"] == "LatentGridworld/ASCII-v0"
    assert rec.metadata["env_kwargs"] == {"size": 9, "full_view": True, "split": "explicit"}
    assert 1 <= len(ep) <= 6
