"""The floor of every attack: one forward + backward pass (input gradient), per image, by batch size and
memory format.

An attack costs at least one forward+backward per iteration; what lowers that floor speeds up every
chapter. For the zoo's MNIST and CIFAR-10 C&W CNNs this times the input gradient of the summed
cross-entropy per image for batch sizes × {contiguous (NCHW), channels-last} model weights (what
``advlab.chapter.Chapter.models`` returns), optionally under ``torch.compile``. Configurations are
interleaved and each is the median of ``--repeats`` rounds, so load changes on a shared machine hit
all of them alike. Prints one row per configuration with its cost relative to batch 100,
contiguous — the setting of the chapters before the chapter kit.

On a GPU (``--device cuda``) this is the per-iteration cost from which the ``gpu`` profile's minutes are
estimated (README, *Paper scale on a GPU*).

Run:  OMP_WAIT_POLICY=PASSIVE PYTHONPATH=lib python benchmarks/bench_floor.py [--compile] [--device cuda]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.nn import functional as F

from advlab import data, zoo
from advlab.chapter.run import hardware

MODELS = {"mnist": "mnist-smallcnn", "cifar10": "cifar10-cnn"}


def per_image_seconds(model: torch.nn.Module, inputs: torch.Tensor, labels: torch.Tensor, passes: int) -> float:
    synchronize = torch.cuda.synchronize if inputs.is_cuda else (lambda: None)
    synchronize()
    start = time.perf_counter()
    for _ in range(passes):
        x = inputs.clone().requires_grad_(True)
        torch.autograd.grad(F.cross_entropy(model(x), labels, reduction="sum"), x)
    synchronize()
    return (time.perf_counter() - start) / (passes * len(inputs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[100, 250, 500])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--passes", type=int, default=5, help="forward+backward passes per timing")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd models")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {hardware(torch.device(args.device).type)}")
    for dataset, name in MODELS.items():
        test = data.first_test_images(dataset, max(args.batches))
        images, labels = test.images.to(args.device), test.labels.to(args.device)
        formats = {"contiguous": torch.contiguous_format, "channels-last": torch.channels_last}
        configs = {}
        for label, memory_format in formats.items():
            model = zoo.load(name, device=args.device).to(memory_format=memory_format)
            configs[label] = model
            if args.compile:
                configs[f"{label} + compile"] = torch.compile(model)
        times: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.repeats):
            for batch in args.batches:
                x, y = images[:batch], labels[:batch]
                for label, model in configs.items():
                    per_image_seconds(model, x, y, 1)  # warm-up (and compilation)
                    times.setdefault((label, batch), []).append(per_image_seconds(model, x, y, args.passes))
        reference = statistics.median(times["contiguous", min(args.batches)])
        print(f"\n{name}: ms per image for one forward+backward (median of {args.repeats})")
        print(f"{'memory format':<28}{'batch':>6}{'ms/image':>10}{'vs ref':>8}")
        for (label, batch), values in times.items():
            value = statistics.median(values)
            print(f"{label:<28}{batch:>6}{1e3 * value:>10.3f}{value / reference:>8.2f}")


if __name__ == "__main__":
    main()
