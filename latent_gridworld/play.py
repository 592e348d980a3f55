"""``latent-gridworld play``: play the mazes by hand in a pygame window, optionally recording.

The window shows the whole maze (the ``rgb_array`` frame: the agent's window lit, the goal
outlined), the agent's own observation enlarged beside it (pixels, or the ASCII characters),
and the goal as a letter and its sprite. Keys: arrows or WASD move, R restarts the task, N draws
the next task, Q or Esc quits. The loop sleeps in ``pygame.event.wait``: it uses no CPU while
nobody presses a key.

``--record PATH`` writes every played episode (with at least one move) to an ``.npz`` file;
:func:`load_recording` reads it back as :class:`~latent_gridworld.episode.Episode` objects. The
format is documented in ``docs/play.md``. The path is checked before the window opens (its
folder is created; an existing file is replaced only with ``--force``), and the file is
rewritten after every episode; if a save fails, the episodes go to a fallback file and the
window and the terminal say where.

Without a display (no ``DISPLAY``/``WAYLAND_DISPLAY`` on Linux), SDL would open an invisible
offscreen window and wait for keys forever: ``play`` refuses instead and says what to do. An
explicit ``SDL_VIDEODRIVER=dummy`` (what the tests set) still runs, driven by posted key events.

pygame is imported only when a window opens; the recording functions work without it.

Why one module of this size: the pygame session (one class, the event loop and its drawing)
and the recording format it writes (``save_recording`` / ``load_recording``, its documented
reader) are the player and its output; nothing else imports either.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np

import latent_gridworld
from latent_gridworld.core.constants import OBJECT_BASE, SPLITS, Action, object_letter
from latent_gridworld.encoders.pixels import tile_atlas
from latent_gridworld.episode import Episode, EpisodeRecorder
from latent_gridworld.fileio import OVERWRITE_HINT, atomic_write_path, check_output_path
from latent_gridworld.integrity import seal, verify, warn_unsealed
from latent_gridworld.kwargs import parse_kwargs
from latent_gridworld.rendering.viewer import frame_to_surface, import_pygame

ENV_IDS = {"ascii": "LatentGridworld/ASCII-v0", "pixel": "LatentGridworld/Pixel-v0"}
RECORDING_FORMAT = "latent-gridworld-play/1"

# pygame key names (pygame.key.key_code) -> action
MOVE_KEYS: dict[str, Action] = {
    "up": Action.NORTH,
    "w": Action.NORTH,
    "right": Action.EAST,
    "d": Action.EAST,
    "down": Action.SOUTH,
    "s": Action.SOUTH,
    "left": Action.WEST,
    "a": Action.WEST,
}
HELP = "arrows/WASD move   R restart   N next task   Q/Esc quit"

BACKGROUND = (18, 18, 22)
TEXT = (225, 225, 225)
DIM_TEXT = (150, 150, 160)
GOOD = (120, 220, 120)
BAD = (235, 120, 110)
MARGIN = 16


# --------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    """The ``latent-gridworld play`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="latent-gridworld play",
        description="Play latent gridworld mazes with the keyboard. " + HELP + ".",
    )
    parser.add_argument(
        "--env",
        default="Pixel",
        help="ASCII or Pixel (case-insensitive), or a full registered id; default Pixel",
    )
    parser.add_argument("--split", choices=SPLITS, help="task split (default: train)")
    parser.add_argument("--seed", type=int, help="seed of the first reset (default: random)")
    parser.add_argument(
        "--kw",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any env argument, repeatable: --kw size=15 --kw full_view=true",
    )
    parser.add_argument(
        "--record",
        type=Path,
        metavar="PATH",
        help="save played episodes (.npz; its folder is created)",
    )
    parser.add_argument("--force", action="store_true", help="replace --record's file if it exists")
    parser.add_argument("--tile", type=int, default=32, help="pixels per maze cell (default 32)")
    return parser


def resolve_env_id(name: str) -> str:
    """``ASCII``/``Pixel`` (any case) or a latent gridworld id -> the id; ValueError otherwise."""
    if name.lower() in ENV_IDS:
        return ENV_IDS[name.lower()]
    entry = gym.registry[name].entry_point if name in gym.registry else None
    if isinstance(entry, str) and entry.startswith("latent_gridworld"):
        return name
    raise ValueError(
        f"unknown --env {name!r}; valid: ASCII, Pixel, or a registered LatentGridworld id"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``latent-gridworld play``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        env_id = resolve_env_id(args.env)
        kwargs = parse_kwargs(args.kw)
        if args.split is not None:
            if "split" in kwargs:
                raise ValueError("give the split once: --split or --kw split=..., not both")
            kwargs["split"] = args.split
        if args.tile < 2:
            raise ValueError(f"--tile must be >= 2, got {args.tile}")
        problem = display_problem()
        if problem is not None:
            raise ValueError(problem)
        if args.record is not None:  # before the window opens, not after the first episode
            try:
                check_output_path(args.record, overwrite=args.force, hint="add --force")
            except OSError as err:
                raise ValueError(f"--record: {err}") from err
        env = gym.make(env_id, **kwargs)
    except (TypeError, ValueError) as err:
        print(f"latent-gridworld play: error: {err}", file=sys.stderr)
        return 2
    driver = os.environ.get("SDL_VIDEODRIVER", "").strip().lower()
    if driver in HEADLESS_DRIVERS:
        print(
            f"latent-gridworld play: SDL_VIDEODRIVER={driver} shows no window; the session "
            "waits for key events posted by a script (Q, Esc or a QUIT event ends it)",
            file=sys.stderr,
        )
    try:
        session = PlaySession(
            env,
            env_id=env_id,
            env_kwargs=kwargs,
            seed=args.seed,
            record=args.record,
            tile=args.tile,
            overwrite=args.force,
        )
    except (HeadlessDisplayError, OSError) as err:
        env.close()
        print(f"latent-gridworld play: error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # pygame.error: SDL could not start the driver asked for
        env.close()
        print(
            f"latent-gridworld play: error: could not open a window ({err}). " + HEADLESS_ADVICE,
            file=sys.stderr,
        )
        return 2
    try:
        return session.run()
    except KeyboardInterrupt:  # Ctrl-C in the terminal: keep the episode being played
        session.quit()
        return 130
    finally:
        session.close()


# --------------------------------------------------------------------------------------------
# Is there a display?

HEADLESS_DRIVERS = ("dummy", "offscreen")
_X11_PLATFORMS = ("linux", "freebsd", "openbsd", "netbsd", "dragonfly", "sunos")
HEADLESS_ADVICE = (
    "play needs a window you can see: run it in a desktop session or over 'ssh -X' (X "
    "forwarding). Without one, record episodes from code (latent_gridworld.episode."
    "record_episode with a policy) or write expert data with 'latent-gridworld generate'; "
    "tests drive play headless with SDL_VIDEODRIVER=dummy and posted key events "
    "(tests/test_play.py)."
)


class HeadlessDisplayError(RuntimeError):
    """SDL found no display and fell back to an invisible window nobody asked for."""


def display_problem(
    environ: dict[str, str] | os._Environ[str] | None = None, platform: str | None = None
) -> str | None:
    """Why no window can be shown here (a message with what to do instead), or ``None``.

    On Linux and the BSDs a window needs ``DISPLAY`` (X11) or ``WAYLAND_DISPLAY``; without them
    SDL silently opens an invisible offscreen window and ``play`` would wait forever. An
    explicit ``SDL_VIDEODRIVER`` is the user's choice and is respected (the tests set
    ``dummy``); SDL reports a driver it cannot start itself.
    """
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if env.get("SDL_VIDEODRIVER", "").strip():
        return None
    if not platform.startswith(_X11_PLATFORMS):
        return None  # macOS and Windows always have their window system
    if env.get("DISPLAY", "").strip() or env.get("WAYLAND_DISPLAY", "").strip():
        return None
    return "no display: DISPLAY and WAYLAND_DISPLAY are not set. " + HEADLESS_ADVICE


# --------------------------------------------------------------------------------------------
# Recording


@dataclass(frozen=True)
class Recording:
    """Episodes read back by :func:`load_recording`.

    Attributes:
        episodes: The played episodes, in order.
        outcomes: Per episode ``"success"``, ``"truncated"`` or ``"abandoned"`` (left with R,
            N or Q before it ended).
        icl: Per episode, whether it was a within-episode ICL episode.
        metadata: ``env_id``, ``env_kwargs``, ``seed``, ``config`` (every WorldConfig field),
            ``package_version``, ``created`` (UTC, ISO 8601) and ``format``.
    """

    episodes: list[Episode]
    outcomes: list[str]
    icl: list[bool]
    metadata: dict[str, Any]


def save_recording(
    path: str | os.PathLike[str],
    episodes: Sequence[Episode],
    outcomes: Sequence[str],
    icl: Sequence[bool],
    metadata: dict[str, Any],
    *,
    overwrite: bool = False,
    hint: str = OVERWRITE_HINT,
) -> None:
    """Write episodes to ``path`` as an ``.npz`` readable without pickle (see docs/play.md).

    Steps of all episodes are concatenated; ``step_offsets``/``action_offsets`` delimit them.
    The file is written next to ``path`` and renamed into place: a crash never leaves half a
    file, and a failed or interrupted write leaves no temporary file.

    Raises:
        ValueError: no episodes.
        FileExistsError: ``path`` exists and ``overwrite`` is false (``hint`` says how to ask).
        OSError: ``path`` cannot be written.
    """
    if not episodes:
        raise ValueError("no episodes to save")
    steps = np.cumsum([0] + [len(e.views) for e in episodes])
    acts = np.cumsum([0] + [len(e.actions) for e in episodes])
    meta = {**metadata, "format": RECORDING_FORMAT, "n_episodes": len(episodes)}
    arrays: dict[str, np.ndarray] = {
        "format": np.array(RECORDING_FORMAT),
        "metadata": np.array(json.dumps(meta, sort_keys=True)),
        "maze": np.array([e.maze for e in episodes], dtype=np.int64),
        "start": np.array([e.start for e in episodes], dtype=np.int64).reshape(-1, 2),
        "split": np.array([e.split for e in episodes]),
        "success": np.array([e.success for e in episodes], dtype=bool),
        "optimal_steps": np.array([e.optimal_steps for e in episodes], dtype=np.int64),
        "placement": np.array([e.placement for e in episodes], dtype=np.int64),
        "outcome": np.array(list(outcomes)),
        "icl": np.array(list(icl), dtype=bool),
        "step_offsets": steps.astype(np.int64),
        "action_offsets": acts.astype(np.int64),
        "views": np.concatenate([e.views for e in episodes]),
        "goals": np.concatenate([e.goals for e in episodes]),
        "positions": np.concatenate([e.positions for e in episodes]),
        "visible": np.concatenate([e.visible for e in episodes]),
        "actions": np.concatenate([e.actions for e in episodes]),
    }
    with atomic_write_path(path, overwrite=overwrite, hint=hint) as tmp:
        with open(tmp, "wb") as f:  # a file object: numpy would append .npz to a bare name
            np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
        seal(tmp)  # whole-file sha256, checked by load_recording


def fallback_recording_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Where a recording goes when its own path cannot be written: a fresh file in the temp dir.

    The name keeps the original stem and adds the time and process id, so it never replaces
    anything.
    """
    stem = Path(path).stem if path is not None else "recording"
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(tempfile.gettempdir()) / f"latent-gridworld-play-{stem}-{stamp}-{os.getpid()}.npz"


def load_recording(path: str | os.PathLike[str]) -> Recording:
    """Read a file written by ``latent-gridworld play --record`` (no pickle involved).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is corrupted or truncated (its whole-file checksum does not
            match), or is not a play recording.
    """
    sealed = verify(path, allow_unsealed=True)  # a recording from before checksums: warned
    with np.load(path, allow_pickle=False) as data:
        fmt = str(data["format"]) if "format" in data.files else None
        if fmt != RECORDING_FORMAT:
            raise ValueError(
                f"{path} is not a play recording (format {fmt!r}, want {RECORDING_FORMAT!r})"
            )
        d = {k: data[k] for k in data.files}
    if not sealed:
        warn_unsealed(path)
    so, ao = d["step_offsets"], d["action_offsets"]
    # recordings from before the placement column were all of the mazes' own placements
    placement = d.get("placement", np.zeros(len(d["maze"]), dtype=np.int64))
    episodes = [
        Episode(
            maze=int(d["maze"][i]),
            start=(int(d["start"][i, 0]), int(d["start"][i, 1])),
            split=str(d["split"][i]),
            views=d["views"][so[i] : so[i + 1]],
            goals=d["goals"][so[i] : so[i + 1]],
            positions=d["positions"][so[i] : so[i + 1]],
            visible=d["visible"][so[i] : so[i + 1]],
            actions=d["actions"][ao[i] : ao[i + 1]],
            success=bool(d["success"][i]),
            optimal_steps=int(d["optimal_steps"][i]),
            placement=int(placement[i]),
        )
        for i in range(len(d["maze"]))
    ]
    return Recording(
        episodes=episodes,
        outcomes=[str(x) for x in d["outcome"]],
        icl=[bool(x) for x in d["icl"]],
        metadata=json.loads(str(d["metadata"])),
    )


# --------------------------------------------------------------------------------------------
# The window


class PlaySession:
    """One play window around an env; :meth:`run` handles keys until the player quits.

    The constructor resets the env and draws the first frame, so a caller (or a test) can
    inspect :attr:`env` and queue key events before :meth:`run`. It checks ``record`` before
    the window opens (an existing file only with ``overwrite``) and refuses to open an
    invisible window SDL fell back to (:class:`HeadlessDisplayError`).

    Raises:
        FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError: ``record``
            cannot be written.
        HeadlessDisplayError: no display, and ``SDL_VIDEODRIVER`` was not set to ask for none.
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        *,
        env_id: str = "",
        env_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        record: str | os.PathLike[str] | None = None,
        tile: int = 32,
        overwrite: bool = False,
    ) -> None:
        if record is not None:
            check_output_path(record, overwrite=overwrite)
        self.pg = import_pygame()
        self.env = env
        self.raw: Any = cast(Any, env.unwrapped)  # the LatentGridworldEnv under any wrappers
        self.tile = tile
        self.record_path = Path(record) if record is not None else None
        self._overwrite = overwrite  # after the first save the file is this session's own
        self.save_error: str | None = None  # the last failed save, if the episodes are unsaved
        self.save_notice = ""  # shown under the help line once a save had to go elsewhere
        self.metadata = {
            "env_id": env_id or (env.spec.id if env.spec else ""),
            "env_kwargs": env_kwargs or {},
            "seed": seed,
            "config": dataclasses.asdict(self.raw.config),
            "package_version": _package_version(),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }
        self.episodes: list[Episode] = []
        self.outcomes: list[str] = []
        self.icl: list[bool] = []
        self.message = ""
        self.running = True
        self._recorder: EpisodeRecorder | None = None  # None once the episode is kept
        self._split = "train"
        self.obs: dict[str, Any] = {}

        pg = self.pg
        pg.display.init()  # display and fonts only: no audio device is opened
        driver = pg.display.get_driver()
        if driver in HEADLESS_DRIVERS and not os.environ.get("SDL_VIDEODRIVER", "").strip():
            pg.display.quit()
            named = [
                f"{k}={os.environ[k]!r}" for k in ("DISPLAY", "WAYLAND_DISPLAY") if k in os.environ
            ]
            raise HeadlessDisplayError(
                f"no display: SDL fell back to its invisible {driver!r} window (no display "
                f"server answered at {' or '.join(named) or 'the default display'}). "
                + HEADLESS_ADVICE
            )
        pg.font.init()
        self.font = pg.font.Font(None, 24)
        self.big_font = pg.font.Font(None, 40)
        size = self.raw.config.size * tile
        self.maze_rect = pg.Rect(MARGIN, MARGIN, size, size)
        side = max(260, size // 2 + 60)
        self.view_rect = pg.Rect(self.maze_rect.right + MARGIN, MARGIN, side, side)
        self.goal_rect = pg.Rect(self.view_rect.left, self.view_rect.bottom + MARGIN, side, 64)
        height = max(self.maze_rect.bottom, self.goal_rect.bottom) + MARGIN + 4 * 26
        self.screen = pg.display.set_mode((self.view_rect.right + MARGIN, height))
        pg.display.set_caption(f"latent-gridworld play: {self.metadata['env_id']}")
        pg.key.set_repeat(250, 60)  # hold an arrow to keep walking
        # frequent events the loop ignores must not wake it (blocking a type drops only that
        # type from the queue; keys already queued survive)
        pg.event.set_blocked([pg.MOUSEMOTION, pg.KEYUP, pg.TEXTINPUT, pg.TEXTEDITING])
        self._key_actions = {pg.key.key_code(name): action for name, action in MOVE_KEYS.items()}
        self._start(seed=seed)

    # ------------------------------------------------------------------ episodes

    def _start(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self.obs, info = self.env.reset(seed=seed, options=options)
        self._split = SPLITS[int(info["split_id"])]
        self._recorder = EpisodeRecorder(self.raw.state, self._split)
        self.message = ""
        self.draw()

    def _finish_episode(self) -> None:
        """Keep the episode being played (if any move was made) and save the recording."""
        state = self.raw.state
        if self._recorder is None or not len(self._recorder):
            return
        self.episodes.append(self._recorder.episode(state))
        outcome = "success" if state.terminated else "truncated" if state.truncated else "abandoned"
        self.outcomes.append(outcome)
        self.icl.append(bool(state.task.icl))
        self._recorder = None
        if self.record_path is not None:
            self._save()

    def _save(self) -> None:
        """Write all episodes so far; if the file cannot be written, switch to a fallback file.

        A played episode is never dropped: the failure and the new path are printed and shown
        in the window, and later episodes go to the fallback file too.
        """
        assert self.record_path is not None
        args = (self.episodes, self.outcomes, self.icl, self.metadata)
        try:
            save_recording(self.record_path, *args, overwrite=self._overwrite, hint="add --force")
            self._overwrite = True
            self.save_error = None
            return
        except OSError as err:
            failed, reason = self.record_path, str(err)
        fallback = fallback_recording_path(failed)
        try:
            save_recording(fallback, *args)
        except OSError as err:
            self.save_error = f"could not save to {failed} ({reason}) nor to {fallback} ({err})"
            self.save_notice = "NOT SAVED: " + self.save_error
            print(f"latent-gridworld play: error: {self.save_error}", file=sys.stderr)
            return
        self.record_path, self._overwrite, self.save_error = fallback, True, None
        self.save_notice = f"Could not save to {failed}; recording to {fallback}"
        print(
            f"latent-gridworld play: could not save to {failed} ({reason}); "
            f"the recording is in {fallback} from now on",
            file=sys.stderr,
        )

    def restart(self) -> None:
        """R: the same task again from its start."""
        task = self.raw.state.task
        self._finish_episode()
        options = {
            "maze": task.maze,
            "goal": task.goal,
            "start": task.start,
            "icl": task.icl,
            "split": self._split,
        }
        if getattr(task, "placement", 0):
            options["placement"] = task.placement
        self._start(options=options)

    def next_task(self) -> None:
        """N: a new task from the split."""
        self._finish_episode()
        self._start()

    def move(self, action: int) -> None:
        """Arrow/WASD: one step (ignored once the episode has ended)."""
        state = self.raw.state
        if state.done:
            return
        goal_before = state.goal
        self.obs, _, terminated, truncated, info = self.env.step(action)
        if self._recorder is not None:
            self._recorder.step(action, self.raw.state)
        steps = self.raw.state.steps
        if terminated:
            self.message = f"Goal reached in {steps} steps (shortest {info['optimal_steps']})."
            self._finish_episode()
        elif truncated:
            self.message = f"Time limit ({steps} steps)."
            self._finish_episode()
        elif info["goal_type"] != goal_before:
            self.message = f"New goal: {object_letter(info['goal_type'])} (you have seen it)."
        self.draw()

    def quit(self) -> None:
        """Q/Esc/window close: keep the episode being played, stop the loop."""
        self._finish_episode()
        self.running = False

    # ------------------------------------------------------------------ loop

    def handle_event(self, event: Any) -> None:
        """Dispatch one pygame event."""
        pg = self.pg
        if event.type == pg.QUIT:
            self.quit()
        elif event.type == pg.KEYDOWN:
            if event.key in (pg.K_q, pg.K_ESCAPE):
                self.quit()
            elif event.key == pg.K_r:
                self.restart()
            elif event.key == pg.K_n:
                self.next_task()
            elif event.key in self._key_actions:
                self.move(int(self._key_actions[event.key]))
        elif event.type in (pg.VIDEOEXPOSE, pg.WINDOWEXPOSED):
            self.draw()

    def run(self) -> int:
        """Handle events until the player quits; returns the exit status.

        0, or 1 when the last save failed (the episodes are in no file; the message says why).
        """
        while self.running:
            # blocks in SDL until an event arrives; the timeout only bounds a missed wake-up
            event = self.pg.event.wait(1000)
            if event.type != self.pg.NOEVENT:
                self.handle_event(event)
        return 1 if self.save_error else 0

    def close(self) -> None:
        """Close the window and the env."""
        self.env.close()
        if self.pg.display.get_init():
            self.pg.display.quit()

    # ------------------------------------------------------------------ drawing

    def draw(self) -> None:
        """Redraw the whole window."""
        pg, raw, state = self.pg, self.raw, self.raw.state
        self.screen.fill(BACKGROUND)
        self.screen.blit(frame_to_surface(pg, raw.render_frame(self.tile)), self.maze_rect)
        self._draw_view()
        self._draw_goal()
        lines = [
            (
                f"maze {state.task.maze}  split {self._split}  step {state.steps}/"
                f"{raw.config.episode_limit}  shortest {state.optimal_steps}"
                + ("  ICL" if state.task.icl else ""),
                DIM_TEXT,
            ),
            (self.message, GOOD if state.terminated else BAD if state.truncated else TEXT),
            (HELP + ("   (N: next, R: retry)" if state.done else ""), DIM_TEXT),
            (self.save_notice, BAD),
        ]
        y = max(self.maze_rect.bottom, self.goal_rect.bottom) + MARGIN
        for text, colour in lines:
            self.screen.blit(self.font.render(text, True, colour), (MARGIN, y))
            y += 26
        pg.display.flip()

    def view_image(self) -> np.ndarray:
        """The agent's observation as an RGB image scaled to fit the view panel (pixel env)."""
        image = self.obs["image"]
        scale = max(1, self.view_rect.width // image.shape[1])
        return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)

    def _draw_view(self) -> None:
        pg, raw = self.pg, self.raw
        pg.draw.rect(self.screen, (40, 40, 48), self.view_rect)
        if raw.obs_mode == "pixel":
            self.screen.blit(frame_to_surface(pg, self.view_image()), self.view_rect.topleft)
            return
        view = self.obs["view"]
        side = raw.config.observed_size
        cell = self.view_rect.width // side
        font = pg.font.Font(None, max(12, int(cell * 1.2)))
        for i, byte in enumerate(view.tolist()):
            r, c = divmod(i, side)
            char = chr(byte)
            colour = DIM_TEXT if char == "#" else GOOD if char == "@" else TEXT
            if char.isalpha():
                colour = _object_rgb(ord(char) - ord("A"))
            glyph = font.render(char, True, colour)
            centre = (
                self.view_rect.left + c * cell + cell // 2,
                self.view_rect.top + r * cell + cell // 2,
            )
            self.screen.blit(glyph, glyph.get_rect(center=centre))

    def _draw_goal(self) -> None:
        pg, goal = self.pg, self.raw.state.goal
        sprite = tile_atlas(self.goal_rect.height)[OBJECT_BASE + goal]
        self.screen.blit(frame_to_surface(pg, sprite), self.goal_rect.topleft)
        label = self.big_font.render(f"Goal: {object_letter(goal)}", True, TEXT)
        self.screen.blit(
            label,
            label.get_rect(
                midleft=(self.goal_rect.left + self.goal_rect.height + 12, self.goal_rect.centery)
            ),
        )


def _object_rgb(object_type: int) -> tuple[int, int, int]:
    """The object's colour: the centre pixel of its sprite (every glyph covers its centre)."""
    r, g, b = tile_atlas(9)[OBJECT_BASE + object_type][4, 4]
    return int(r), int(g), int(b)


def _package_version() -> str:
    return latent_gridworld.__version__


if __name__ == "__main__":
    raise SystemExit(main())
