"""How far the EAD chapter's reduced schedule is from the paper's (chapter ead, "The schedule").

The paper runs EAD and C&W with 9 binary-search steps × 1000 iterations from c₀ = 1e-3; the chapter's
quick profile runs 5 × 200 from c₀ = 0.1 (EAD's β = 1e-3, both decision rules from one run; C&W
without early abort, as the paper's script). Both schedules attack the same images and targets
(the first ``--images`` MNIST test images the zoo's SmallCNN classifies correctly, each towards its
9 other classes); per attack the script stores each (image, target) pair's success and L1 / L2 / L∞
distortion, and the seconds, to a JSON file the chapter reads (``--out``, default
benchmarks/results/ead_schedule.json) with the hardware named.

Run:  OMP_WAIT_POLICY=PASSIVE PYTHONPATH=lib python benchmarks/ead_schedule.py --device cuda --images 100
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import torch

from advlab import zoo
from advlab.attacks import carlini_wagner_l2, ead_rules
from advlab.chapter.samples import attack_set, targeted
from advlab.evaluate import NORM_NAMES
from advlab.fileio import atomic_write_text

SCHEDULES = {"paper": {"search_steps": 9, "steps": 1000, "initial_const": 1e-3},
             "quick": {"search_steps": 5, "steps": 200, "initial_const": 0.1}}
BETA = 1e-3


def run(model, inputs, targets, attack, batch_size) -> tuple[dict[str, torch.Tensor], float]:
    """Every batch through ``attack`` (a dict of name → examples); the examples and the seconds."""
    out: dict[str, list] = {}
    if inputs.is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(0, len(inputs), batch_size):
        for name, adv in attack(model, inputs[i:i + batch_size], targets[i:i + batch_size], targeted=True).items():
            out.setdefault(name, []).append(adv.detach())
    if inputs.is_cuda:
        torch.cuda.synchronize()
    return {name: torch.cat(parts) for name, parts in out.items()}, time.perf_counter() - start


def describe(model, inputs, targets, adv: torch.Tensor) -> dict:
    with torch.no_grad():
        success = model(adv).argmax(1) == targets
    delta = (adv - inputs).flatten(1)
    norms = {name: delta.norm(p=p, dim=1) for name, p in NORM_NAMES.items() if name != "l0"}
    return {"success": success.cpu().tolist(), **{name: [round(v, 6) for v in norm.cpu().tolist()]
                                                     for name, norm in norms.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--out", default="benchmarks/results/ead_schedule.json")
    args = parser.parse_args()

    device = torch.device(args.device)
    model = zoo.load("mnist-smallcnn", "quick", device=device).eval()
    attacked = targeted(attack_set("mnist", args.images, correct_for=[model.cpu()]))
    model.to(device)
    inputs, targets = attacked.inputs.to(device), attacked.targets.to(device)
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    report = {"model": "mnist-smallcnn (quick)", "images": args.images, "targets_per_image": attacked.per_image,
              "beta": BETA, "schedules": SCHEDULES, "hardware": hardware, "torch": torch.__version__, "runs": {}}
    for schedule, settings in SCHEDULES.items():
        attacks = {"ead": partial(ead_rules, beta=BETA, **settings),
                   "cw": lambda *a, settings=settings, **k: {"C&W": carlini_wagner_l2(*a, abort_early=False, **settings, **k)}}
        for attack in attacks.values():
            examples, seconds = run(model, inputs, targets, attack, args.batch)
            for name, adv in examples.items():
                label = {"EN": "EAD (EN)", "L1": "EAD (L1)"}.get(name, name)
                report["runs"][f"{label} {schedule}"] = {"schedule": schedule, "attack": label, "seconds": round(seconds, 2),
                                                         **describe(model, inputs, targets, adv)}
            print(f"{schedule} {list(examples)}: {seconds:.1f} s", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(report))


if __name__ == "__main__":
    main()
