"""Per-class input gradients: the attacks' loop of backward passes against three batched alternatives.

``attacks._common.class_gradients`` computes the input gradients of C logits per sample with one
backward pass per class (DeepFool and the Convex paper's Algorithm 1 need all of them). On the zoo's
quick MNIST FCNN and LeNet-5 (the first ``--mnist-batch`` MNIST test images) and CIFAR-10 C&W CNN
(the first ``--cifar10-batch`` CIFAR-10 test images), all 10 classes, each variant runs one forward
pass and returns the (N, 10, ...) gradients:

1. ``loop``: ``class_gradients``, 10 backward passes through the graph of one forward pass;
2. ``is_grads_batched``: one ``torch.autograd.grad`` call with the 10 one-hot output gradients
   stacked, which vmaps the backward pass over them;
3. ``vmap(jacrev)``: ``torch.func.vmap(torch.func.jacrev(f))`` of the single-sample model, which
   vmaps the forward over the batch and the backward over the 10 outputs;
4. ``replicate``: the batch repeated 10× (one copy per class), one forward and one backward pass of
   the sum of each copy's logit.

Each variant is checked against the loop (max |Δ| over all gradients) and timed as the median of
``--repeats`` runs after one warm-up; every repeat runs all variants, in an order rotated from one
repeat to the next, and the ratio to the loop is the median of the per-repeat ratios, so that load
changes on a shared machine cancel. Models are channels-last, as the chapters run them.

Run:  OMP_WAIT_POLICY=PASSIVE PYTHONPATH=lib python benchmarks/bench_class_gradients.py
      (writes benchmarks/results/class_gradients.json; ``--device cuda`` on a GPU)
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from advlab import data, zoo
from advlab.attacks._common import class_gradients
from advlab.chapter.run import hardware
from advlab.fileio import atomic_write_text
from bench_attacks import timed  # this folder is on sys.path when the script runs

MODELS = {"mnist-fcnn": "mnist", "mnist-lenet5": "mnist", "cifar10-cnn": "cifar10"}
RECIPE = "quick"
Variant = Callable[[nn.Module, Tensor, Tensor], Tensor]


def loop(model: nn.Module, inputs: Tensor, classes: Tensor) -> Tensor:
    x = inputs.clone().requires_grad_(True)
    return class_gradients(model(x), x, classes)


def grads_batched(model: nn.Module, inputs: Tensor, classes: Tensor) -> Tensor:
    x = inputs.clone().requires_grad_(True)
    logits = model(x)
    one_hot = torch.zeros(classes.shape[1], *logits.shape, dtype=logits.dtype, device=logits.device)
    one_hot.scatter_(2, classes.T[..., None], 1)  # (C, N, K): row j selects the logit classes[:, j]
    return torch.autograd.grad(logits, x, grad_outputs=one_hot, is_grads_batched=True)[0].transpose(0, 1)


def vmap_jacrev(model: nn.Module, inputs: Tensor, classes: Tensor) -> Tensor:
    jacobian = torch.func.vmap(torch.func.jacrev(lambda x: model(x[None])[0]))(inputs)  # (N, K, ...)
    return jacobian[torch.arange(len(inputs), device=inputs.device)[:, None], classes]


def replicate(model: nn.Module, inputs: Tensor, classes: Tensor) -> Tensor:
    n, c = classes.shape
    x = inputs.repeat(c, *[1] * (inputs.ndim - 1)).requires_grad_(True)  # copy j = rows j·n … (j + 1)·n − 1
    logits = model(x)
    grad = torch.autograd.grad(logits.gather(1, classes.T.reshape(-1, 1)).sum(), x)[0]
    return grad.view(c, n, *inputs.shape[1:]).transpose(0, 1)


VARIANTS: dict[str, Variant] = {"loop": loop, "is_grads_batched": grads_batched, "vmap(jacrev)": vmap_jacrev,
                                "replicate": replicate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--mnist-batch", type=int, default=1024)
    parser.add_argument("--cifar10-batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/class_gradients.json"))
    args = parser.parse_args()

    device = torch.device(args.device)
    batch = {"mnist": args.mnist_batch, "cifar10": args.cifar10_batch}
    print(f"{hardware(device.type)}, torch {torch.__version__}; all 10 classes, forward included, median of "
          f"{args.repeats} runs (variants in rotated order)")
    print("| model | batch | " + " | ".join(f"{name} (ms)" for name in VARIANTS) + " | fastest | "
          + " | ".join(f"{name} / loop" for name in list(VARIANTS)[1:]) + " | max abs diff |")
    print("|---|---|" + "---|" * (2 * len(VARIANTS)) + "---|")
    rows = []
    for name, dataset in MODELS.items():
        model = zoo.load(name, RECIPE, device=device).to(memory_format=torch.channels_last)
        images = data.first_test_images(dataset, batch[dataset])
        inputs = images.images.to(device)
        classes = torch.arange(10, device=device).expand(len(inputs), 10)
        reference = loop(model, inputs, classes)
        diffs = {variant: (VARIANTS[variant](model, inputs, classes) - reference).abs().max().item()  # + warm-up
                 for variant in list(VARIANTS)[1:]}
        seconds: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
        for repeat in range(args.repeats):
            order = list(VARIANTS)[repeat % len(VARIANTS):] + list(VARIANTS)[:repeat % len(VARIANTS)]
            for variant in order:
                seconds[variant].append(timed(lambda: VARIANTS[variant](model, inputs, classes), device))
        ms = {variant: 1000 * statistics.median(times) for variant, times in seconds.items()}
        ratios = {variant: statistics.median(t / base for t, base in zip(seconds[variant], seconds["loop"]))
                  for variant in list(VARIANTS)[1:]}
        fastest = min(ms, key=ms.get)
        print(f"| {name} | {len(inputs)} | " + " | ".join(f"{value:.1f}" for value in ms.values()) + f" | {fastest} | "
              + " | ".join(f"{value:.2f}" for value in ratios.values())
              + f" | {max(diffs.values()):.2e} |")
        rows.append({"model": f"{name} ({RECIPE})", "data": images.source, "batch": len(inputs),
                     "ms": {variant: round(value, 2) for variant, value in ms.items()},
                     "ratio to loop": {variant: round(value, 3) for variant, value in ratios.items()},
                     "max abs diff to loop": diffs, "fastest": fastest})

    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps({
        "description": "input gradients of all 10 logits per sample, forward included; written by "
                       "benchmarks/bench_class_gradients.py", "classes": 10, "repeats": args.repeats,
        "hardware": hardware(device.type), "torch": torch.__version__, "rows": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
