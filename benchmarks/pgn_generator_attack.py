"""Is PGN's generator an attack at all? (chapter pgn, E1; issue: the quick PGN models showed no gain.)

The generator of Table 1 is trained alone (``advlab.defenses.pgn.train_generator``: Adam on Eq. 4's inner
max, first order) against a frozen adversarially trained classifier, the zoo's ``mnist-smallcnn-pgd-at``
(quick recipe), for each trade-off c_L. Every ``--every`` steps it is checked on the first ``--images``
MNIST test images (``equal_l2_flags``): accuracy under its perturbation, and under Gaussian noise, FGM-L2 and
PGD-L2 of the same L2 norm image by image. ``--inputs`` ablates what the generator sees (E6, Fig. 8;
benchmarks/results/pgn_generator_inputs.json). The JSON (``--out``, default
benchmarks/results/pgn_generator_attack.json, whose rows predate ``--inputs``: the full generator) holds per
check the generator's inputs, the mean ‖δ‖₂, each accuracy with its Wilson
interval and the paired differences (generator − other, bootstrap over images), with the hardware named.

Run:  OMP_WAIT_POLICY=PASSIVE PYTHONPATH=lib python benchmarks/pgn_generator_attack.py
      ... --c-l 0.1 --inputs gradient,image image gradient none --out benchmarks/results/pgn_generator_inputs.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from advlab import data, zoo
from advlab.chapter import stats
from advlab.chapter.run import hardware
from advlab.defenses.pgn import equal_l2_flags, train_generator
from advlab.fileio import atomic_write_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classifier", default="mnist-smallcnn-pgd-at")
    parser.add_argument("--c-l", type=float, nargs="+", default=[0.3, 0.1, 0.03])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--every", type=int, default=300)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--width", type=int, default=32, help="generator channels (Table 1: 128)")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--inputs", nargs="+", default=["gradient,image"],
                        help="what the generator sees besides the label, one run per value: 'gradient,image' "
                             "(Table 1), 'image', 'gradient' or 'none' (E6's ablation, Fig. 8)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="benchmarks/results/pgn_generator_attack.json")
    args = parser.parse_args()

    classifier = zoo.load(args.classifier, "quick", device=args.device).eval()
    for parameter in classifier.parameters():
        parameter.requires_grad_(False)
    train, test = data.load("mnist", "train"), data.load("mnist", "test")
    images, labels = test.images[:args.images].to(args.device), test.labels[:args.images].to(args.device)
    checks = []
    for seen in args.inputs:
        inputs = ("label",) + (() if seen == "none" else tuple(seen.split(",")))  # the label always
        for c_l in args.c_l:
            run(classifier, train, images, labels, c_l, inputs, args, checks)
    record = {"classifier": f"{args.classifier} (quick)", "data": train.source, "steps": args.steps,
              "generator_width": args.width, "lr": args.lr, "batch_size": 128, "images": args.images,
              "hardware": hardware(args.device), "torch": torch.__version__, "checks": checks}
    atomic_write_text(Path(args.out), json.dumps(record, indent=1) + "\n")


def run(classifier, train, images, labels, c_l: float, inputs: tuple[str, ...], args, checks: list) -> None:
    """Train one generator and append a row per check to ``checks``."""
    start = time.perf_counter()

    def check(step: int, generator) -> None:
        flags = equal_l2_flags(classifier, generator, images, labels)
        row = {"c_l": c_l, "inputs": "+".join(inputs[1:]) or "none", "step": step,
               "seconds": round(time.perf_counter() - start, 1), "mean_l2": flags["l2"].double().mean().item(),
               "n": len(labels)}
        for name in ("generator", "noise", "fgm", "pgd"):
            e = stats.rate(flags[name].numpy())
            row[f"accuracy {name}"] = [e.value, e.low, e.high]
        for name in ("noise", "fgm", "pgd"):
            e = stats.paired_difference(flags["generator"].double().numpy(), flags[name].double().numpy())
            row[f"generator − {name}"] = [e.value, e.low, e.high]
        checks.append(row)
        print(json.dumps(row), flush=True)

    train_generator(classifier, train.images, train.labels, c_l=c_l, steps=args.steps, lr=args.lr, width=args.width, inputs=inputs,
                    device=args.device, every=args.every, on_check=check)


if __name__ == "__main__":
    main()
