"""``latent-gridworld play``: play the mazes by hand in a pygame window, optionally recording.

The window shows the whole maze (the ``rgb_array`` frame: the agent's window lit, the goal
outlined), the agent's own observation enlarged beside it (pixels, or the ASCII characters),
and the goal as a letter and its sprite. Keys: arrows or WASD move, R restarts the task, N draws
the next task, Q or Esc quits. The loop sleeps in ``pygame.event.wait``: it uses no CPU while
nobody presses a key.

``--record PATH`` writes every played episode (with at least one move) to an ``.npz`` file;
:func:`~latent_gridworld.recordings.load_recording` reads it back as
:class:`~latent_gridworld.episode.Episode` objects (the format is in
:mod:`latent_gridworld.recordings` and ``docs/play.md``; its names are importable from here
too). The path is checked before the window opens (its folder is created; an existing file is
replaced only with ``--force``), and the file is rewritten after every episode; if a save
fails, the episodes go to a fallback file and the window and the terminal say where.

Without a display (no ``DISPLAY``/``WAYLAND_DISPLAY`` on Linux), SDL would open an invisible
offscreen window and wait for keys forever: ``play`` refuses instead and says what to do. An
explicit ``SDL_VIDEODRIVER=dummy`` (what the tests set) still runs, driven by posted key events.

pygame is imported only when a window opens.

Why a module of this size: it is the command line, the display check and one class, the
window, whose event loop, episode handling and drawing share the pygame surfaces and the
episode being played; the recording format it writes is :mod:`latent_gridworld.recordings`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np

import latent_gridworld
from latent_gridworld.core.constants import OBJECT_BASE, SPLITS, Action, object_letter
from latent_gridworld.encoders.pixels import tile_atlas
from latent_gridworld.episode import Episode, EpisodeRecorder
from latent_gridworld.fileio import check_output_path
from latent_gridworld.kwargs import parse_kwargs
from latent_gridworld.recordings import (  # noqa: F401  (re-exported: the format moved there)
    RECORDING_FORMAT,
    Recording,
    fallback_recording_path,
    load_recording,
    save_recording,
)
from latent_gridworld.registration import resolve_env_id
from latent_gridworld.rendering.viewer import frame_to_surface, import_pygame

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
