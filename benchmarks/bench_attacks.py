"""Cost of one attack iteration relative to one bare forward + backward pass of the model.

On the MNIST SmallCNN of the zoo (or the CIFAR-10 CNN with ``--dataset cifar10``; batch 100, the
first test images, this machine's CPU or the GPU with ``--device cuda``), each attack is timed at
two budgets n₁ < n₂ and its per-iteration time is (T(n₂) − T(n₁)) / (n₂ − n₁), which cancels the
fixed costs (validation, set-up). The reference is the same difference for a bare loop of forward +
backward passes (the input gradient of the summed cross-entropy), measured right after each attack
run so that load changes on a shared machine affect both; the ratio is the median over ``--repeats``
such pairs.

Run:  OMP_WAIT_POLICY=PASSIVE PYTHONPATH=lib python benchmarks/bench_attacks.py
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from functools import partial
from typing import Callable

import torch
from torch.nn import functional as F

from advlab import data, zoo
from advlab.attacks import anu, carlini_wagner_l2, ddn, ead, ifgm, pgd
from advlab.chapter.run import hardware
from bench_floor import MODELS  # the chapters' C&W CNNs by dataset (this folder is on sys.path when run)

# name → (attack, target ratio); every attack takes its iteration budget as ``steps``
ATTACKS: dict[str, tuple[Callable, float]] = {
    "DDN": (ddn, 1.15),
    "ANU (γ₀ 0.4, α_γ 0.15)": (partial(anu, gamma_init=0.4, alpha_gamma=0.15), 1.15),
    "PGD-L2 (ε 1.5)": (partial(pgd, eps=1.5, norm=2), 1.15),
    "PGD-L∞ (ε 0.3)": (partial(pgd, eps=0.3, norm=math.inf), 1.15),
    "I-FGM-L∞ (ε 0.3)": (partial(ifgm, eps=0.3, norm=math.inf), 1.15),
    "C&W-L2 (1 search step, no abort)": (partial(carlini_wagner_l2, search_steps=1, abort_early=False), 1.2),
    "EAD (1 search step)": (partial(ead, search_steps=1), 1.45),
}


def bare_passes(model: torch.nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *, steps: int) -> None:
    """``steps`` forward + backward passes (gradient of the summed cross-entropy with respect to the input)."""
    for _ in range(steps):
        x = inputs.clone().requires_grad_(True)
        torch.autograd.grad(F.cross_entropy(model(x), labels, reduction="sum"), x)


def timed(function: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    function()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def per_iteration(run: Callable[[int], object], low: int, high: int, device: torch.device) -> float:
    """(T(high) − T(low)) / (high − low): the time of one iteration without the fixed costs."""
    return (timed(lambda: run(high), device) - timed(lambda: run(low), device)) / (high - low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dataset", default="mnist", choices=list(MODELS))
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--low", type=int, default=2, help="n₁ (iterations)")
    parser.add_argument("--high", type=int, default=12, help="n₂ (iterations)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    device = torch.device(args.device)
    model = zoo.load(MODELS[args.dataset], device=device).to(memory_format=torch.channels_last)
    dataset = data.first_test_images(args.dataset, args.batch)
    inputs, labels = dataset.images.to(device), dataset.labels.to(device)
    bare_passes(model, inputs, labels, steps=3)  # warm-up

    bare = lambda n: bare_passes(model, inputs, labels, steps=n)  # noqa: E731
    print(f"{MODELS[args.dataset]} (channels-last), batch {args.batch}, {hardware(device.type)}, "
          f"torch {torch.__version__}, n = {args.low} → {args.high}, median of {args.repeats} runs, "
          "each attack run next to a bare run")
    print("| attack | ms / iteration | bare fwd+bwd (ms) | × forward+backward | target | ok |")
    print("|---|---|---|---|---|---|")
    for name, (attack, target) in ATTACKS.items():
        run = lambda n, attack=attack: attack(model, inputs, labels, steps=n)  # noqa: E731
        run(args.low)  # warm-up
        pairs = [(per_iteration(run, args.low, args.high, device), per_iteration(bare, args.low, args.high, device))
                 for _ in range(args.repeats)]
        ratio = statistics.median(attack_time / bare_time for attack_time, bare_time in pairs)
        attack_ms = 1000 * statistics.median(attack_time for attack_time, _ in pairs)
        bare_ms = 1000 * statistics.median(bare_time for _, bare_time in pairs)
        print(f"| {name} | {attack_ms:.1f} | {bare_ms:.1f} | {ratio:.3f} | ≤ {target} | "
              f"{'yes' if ratio <= target else 'NO'} |")


if __name__ == "__main__":
    main()
