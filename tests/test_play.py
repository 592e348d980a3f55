"""The play window, driven headless by synthetic key events (SDL dummy driver, see conftest)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pygame
import pytest

from agents import cli
from latent_gridworld import expert_action, play
from latent_gridworld.core import world
from latent_gridworld.core.constants import ACTION_DELTAS, OBJECT_BASE
from latent_gridworld.encoders.pixels import tile_atlas
from latent_gridworld.episode import record_episode
from latent_gridworld.kwargs import parse_kwargs
from latent_gridworld.play import (
    PlaySession,
    display_problem,
    load_recording,
    main,
    save_recording,
)

REPO = Path(__file__).resolve().parents[1]
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


def test_recordings_keep_the_placement(tmp_path: Path) -> None:
    path = tmp_path / "placed.npz"
    session = _session(seed=4, record=path)
    session._start(options={"placement": 2})  # only reset options choose a placement variant
    moves = _open_moves(session, 2)
    _post(*(ARROWS[a] for a in moves), "r")  # R replays the same task, placement included
    _post(*(ARROWS[a] for a in moves), "q")
    session.run()
    config = session.raw.config
    session.close()
    rec = load_recording(path)
    assert [e.placement for e in rec.episodes] == [2, 2]
    e = rec.episodes[1]
    maze = world.build_maze(config, e.maze, 2)
    rows, cols = e.positions[:, 0], e.positions[:, 1]
    assert (e.views == maze.views[rows, cols]).all() and e.actions.tolist() == moves


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
        (["--env", "Text"], "unknown env 'Text'; valid: ASCII, Pixel, or a registered"),
        (["--env", "CartPole-v1"], "unknown env 'CartPole-v1'"),
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


# ---------------------------------------------------------------------------- output file


def test_record_into_a_missing_folder_creates_it_before_the_window_opens(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "me.npz"  # the README's command in a fresh clone
    session = _session(seed=0, record=path)
    assert path.parent.is_dir() and not path.exists()
    _post(ARROWS[_open_moves(session, 1)[0]], "q")
    assert session.run() == 0
    session.close()
    assert len(load_recording(path).episodes) == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["me.npz"]  # no temp file left


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    assert pygame.display.get_surface() is None  # refused before any window opened
    err = capsys.readouterr().err
    assert err.startswith("latent-gridworld play: error: --record: ")
    return err.removeprefix("latent-gridworld play: error: --record: ").strip()


def test_record_path_problems_are_refused_before_the_window_opens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "me.npz"
    existing.write_bytes(b"an earlier session")
    assert _refused(["--record", str(existing)], capsys) == (
        f"{existing} already exists; add --force to replace it"
    )
    assert existing.read_bytes() == b"an earlier session"
    assert _refused(["--record", str(tmp_path)], capsys) == (
        f"{tmp_path} is a folder; give a file path, e.g. {tmp_path / 'out.npz'}"
    )
    assert _refused(["--record", str(existing / "x.npz")], capsys) == (
        f"cannot create the folder {existing} for {existing / 'x.npz'}: a file is in the way"
    )
    with pytest.raises(FileExistsError, match="me.npz already exists; pass overwrite=True"):
        _session(record=existing)
    # --force replaces it
    _post("right", "down", "left", "up", "q")
    assert main(["--env", "ascii", "--kw", "size=9", "--record", str(existing), "--force"]) == 0
    assert len(load_recording(existing).episodes) == 1


def test_a_failed_save_goes_to_a_fallback_file_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    runs = tmp_path / "runs"
    session = _session(seed=0, record=runs / "me.npz")
    runs.rmdir()
    runs.write_text("")  # the folder was replaced by a file while playing: the save fails
    first = _open_moves(session, 2)
    _post(*(ARROWS[a] for a in first), "n", "q")
    session.run()
    fallback = session.record_path
    assert fallback is not None and fallback.parent == tmp_path / "tmp"
    assert fallback.name.startswith("latent-gridworld-play-me-")
    err = capsys.readouterr().err
    assert f"could not save to {runs / 'me.npz'} (" in err
    assert f"the recording is in {fallback} from now on" in err
    assert session.save_notice == f"Could not save to {runs / 'me.npz'}; recording to {fallback}"
    session.running = True
    second = _open_moves(session, 3)
    _post(*(ARROWS[a] for a in second), "q")
    assert session.run() == 0
    session.close()
    rec = load_recording(fallback)  # both episodes, the later one went there directly
    assert [e.actions.tolist() for e in rec.episodes] == [first, second]


def test_when_no_file_can_be_written_run_fails_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "blocker"
    monkeypatch.setattr(play, "fallback_recording_path", lambda path: blocker / "x.npz")
    session = _session(seed=0, record=tmp_path / "runs" / "me.npz")
    (tmp_path / "runs").rmdir()
    (tmp_path / "runs").write_text("")
    blocker.write_text("")
    _post(ARROWS[_open_moves(session, 1)[0]], "q")
    assert session.run() == 1
    session.close()
    assert session.save_error is not None
    assert session.save_error.startswith(f"could not save to {tmp_path / 'runs' / 'me.npz'} (")
    assert f"nor to {blocker / 'x.npz'} (" in session.save_error
    assert session.save_notice == "NOT SAVED: " + session.save_error
    assert "latent-gridworld play: error: could not save to" in capsys.readouterr().err


def test_ctrl_c_keeps_the_episode_being_played(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "me.npz"
    original = PlaySession.handle_event

    def handle(self: PlaySession, event: Any) -> None:
        if event.type == pygame.KEYDOWN and event.key == pygame.K_k:
            raise KeyboardInterrupt  # what Ctrl-C in the terminal raises inside the loop
        original(self, event)

    monkeypatch.setattr(PlaySession, "handle_event", handle)
    _post("right", "down", "left", "up", "k")
    assert main(["--env", "ascii", "--kw", "size=9", "--record", str(path)]) == 130
    assert len(load_recording(path).episodes) == 1


# ---------------------------------------------------------------------------- no display


def test_display_problem_reads_the_environment() -> None:
    assert display_problem({}, "linux") is not None
    assert display_problem({}, "linux").startswith(  # type: ignore[union-attr]
        "no display: DISPLAY and WAYLAND_DISPLAY are not set. play needs a window"
    )
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"SDL_VIDEODRIVER": "dummy"}, "linux") is None  # asked for: tests
    assert display_problem({}, "darwin") is None and display_problem({}, "win32") is None


def _play_without_display(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")
    }
    return subprocess.run(
        [sys.executable, "-m", "agents.cli", "play", "--env", "ascii"],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,  # it used to wait forever for keys in an invisible window
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland platforms")
def test_play_without_a_display_exits_with_advice_instead_of_hanging() -> None:
    out = _play_without_display()
    assert out.returncode == 2
    assert out.stderr.startswith(
        "latent-gridworld play: error: no display: DISPLAY and WAYLAND_DISPLAY are not set. "
        "play needs a window you can see: run it in a desktop session or over 'ssh -X' (X "
        "forwarding)."
    )
    assert "latent_gridworld.episode.record_episode with a policy" in out.stderr
    assert "write expert data with 'latent-gridworld generate'" in out.stderr
    assert "SDL_VIDEODRIVER=dummy and posted key events" in out.stderr
    assert "XDG_RUNTIME_DIR" not in out.stderr  # SDL was never started


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland platforms")
def test_play_with_an_unreachable_display_exits_instead_of_hanging() -> None:
    out = _play_without_display(DISPLAY=":54321")  # no X server there
    assert out.returncode == 2
    assert out.stderr.count("latent-gridworld play: error: ") == 1
    # SDL either falls back to its invisible window (pygame 2.6: 'offscreen') or fails
    assert (
        "no display: SDL fell back to its invisible 'offscreen' window (no display server "
        "answered at DISPLAY=':54321'). play needs a window"
        in out.stderr
        or "could not open a window (" in out.stderr
    ), out.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland platforms")
def test_a_driver_sdl_cannot_start_is_reported_with_advice() -> None:
    out = _play_without_display(SDL_VIDEODRIVER="x11")  # asked for X11, but no DISPLAY
    assert out.returncode == 2
    assert "latent-gridworld play: error: could not open a window (x11 not available). " in (
        out.stderr
    )
    assert "play needs a window you can see" in out.stderr


def test_an_explicit_dummy_driver_still_plays_and_says_it_shows_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.delenv("DISPLAY", raising=False)
    _post("right", "q")
    assert main(["--env", "ascii", "--kw", "size=9"]) == 0
    assert capsys.readouterr().err == (
        "latent-gridworld play: SDL_VIDEODRIVER=dummy shows no window; the session waits for "
        "key events posted by a script (Q, Esc or a QUIT event ends it)\n"
    )
