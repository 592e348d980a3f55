"""Train a retrieval PPO agent on the pixel env in a few lines, then evaluate it on every split.

    python examples/train_ppo_retrieval.py              # world v1, 20k steps: under a minute
    python examples/train_ppo_retrieval.py --steps 150000 --retrieval none
    python examples/train_ppo_retrieval.py --preset v0-9x9   # the first results' 9x9 world

The run folder (``runs/example/<retrieval>_s0``) holds TensorBoard curves, the checkpoint
(watch it with ``examples/watch_ppo.py``) and ``results.json``.
"""

import argparse

from agents.rl.train import TrainConfig, train

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=20_000)
parser.add_argument("--retrieval", default="oracle", help="oracle or none (knn: vec_env dummy)")
parser.add_argument("--preset", default="v1", help="v1 (radial-arm mazes) or v0-9x9")
args = parser.parse_args()

config = TrainConfig.from_preset(
    args.preset,
    retrieval=args.retrieval,
    total_timesteps=args.steps,
    eval_every=max(args.steps // 4, 1),
    final_eval_episodes=100,
    run_dir="runs/example",
)
results = train(config)
for split in ("train", "explicit", "latent", "new_maze"):
    r = results[split]
    print(f"{split:>9}: success {r['success']:.2f}  path efficiency {r['efficiency']:.2f}")
print(f"checkpoint: runs/example/{config.name}/model.zip")
