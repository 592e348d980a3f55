"""Load a PPO checkpoint and watch it play in the pygame window.

    python examples/watch_ppo.py runs/rl/oracle_s0 --split latent
    SDL_VIDEODRIVER=dummy python examples/watch_ppo.py runs/rl/oracle_s0 --steps 200   # headless

The window shows the whole maze (the agent's view lit, the goal outlined). Each episode's
outcome is printed; ``--steps`` stops after that many env steps in all. ``RecurrentPPO`` runs
(``--algo recurrent_ppo``) play with their LSTM state carried through each episode.
"""

import argparse

import numpy as np

from agents.rl.evaluate import PolicyStepper, make_env
from agents.rl.runs import load_run

parser = argparse.ArgumentParser()
parser.add_argument("run", help="a run folder written by agents.rl.train")
parser.add_argument("--split", default="latent", help="train, explicit, latent or new_maze")
parser.add_argument("--steps", type=int, default=1000, help="stop after this many steps")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--fps", type=int, default=8)
parser.add_argument("--greedy", action="store_true", help="argmax actions instead of sampling")
args = parser.parse_args()

model, spec, memory = load_run(args.run)
env = make_env(spec, memory, split=args.split, render_mode="human")
env.unwrapped.metadata = {**env.unwrapped.metadata, "render_fps": args.fps}  # this env only
obs, info = env.reset(seed=args.seed)
policy = PolicyStepper(model, 1, deterministic=args.greedy)  # LSTM state, if any, per episode
episode, steps, successes = 0, 0, 0
for _ in range(args.steps):
    batch = {key: np.asarray(value)[None] for key, value in obs.items()}
    action = policy.act([0], batch)
    obs, reward, terminated, truncated, info = env.step(int(action[0]))
    steps += 1
    if terminated or truncated:
        episode += 1
        successes += int(info["is_success"])
        print(
            f"episode {episode}: maze {info['maze']} goal {info['goal_type']} "
            f"{'reached' if info['is_success'] else 'not reached'} in "
            f"{env.unwrapped.state.steps} steps (shortest {info['optimal_steps']})"
        )
        obs, info = env.reset(seed=args.seed + episode)
        policy.begin(0)
print(f"{steps} steps, {episode} episodes, {successes} successes")
env.close()
