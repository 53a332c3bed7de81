"""DDN-AT vs ANU-AT training time in the same conditions (ANU paper §5.3: about 20 % less).

Runs the zoo's quick recipes of ``mnist-smallcnn-ddn-at`` (DDN-100) and ``mnist-smallcnn-anu-at``
(ANU-70) through the one training loop (``advlab.training.fit``) on the same few batches,
interleaved (DDN, ANU, DDN, ANU, …) so that machine load affects both alike, and prints the median
seconds per batch and their ratio.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_training.py --batches 4 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from advlab import data, zoo
from advlab.training import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=4, help="training batches per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per method")
    args = parser.parse_args()
    train_set, test_set = data.load("mnist", "train"), data.first_test_images("mnist", 100)
    clean = zoo.load("mnist-smallcnn").state_dict()
    seconds: dict[str, list[float]] = {"mnist-smallcnn-ddn-at": [], "mnist-smallcnn-anu-at": []}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for name in seconds:
                recipe = zoo.ENTRIES[name].recipes["quick"]
                batch = recipe.batch_size
                recipe = replace(recipe, train_subset=batch * args.batches, holdout=0, eval_eps=None, seed=repeat)
                model = zoo.ENTRIES[name].build()
                model.load_state_dict(clean)
                fields = fit(model, train_set, test_set, recipe, Path(tmp) / f"{name}.pt", progress=False)
                seconds[name].append(fields["training_seconds"] / args.batches)
    ddn, anu = (statistics.median(v) for v in seconds.values())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {batch}, "
          f"{args.batches} batches × {args.repeats} interleaved runs")
    print("| recipe | attack | s / batch (median) |\n|---|---|---|")
    for name, values in seconds.items():
        spec = zoo.ENTRIES[name].recipes["quick"].adversarial
        print(f"| {name} | {spec.attack.upper()}-{spec.attack_kwargs['steps']} | {statistics.median(values):.2f} |")
    print(f"ANU-AT / DDN-AT time: {anu / ddn:.3f} ({100 * (anu / ddn - 1):+.1f} %; the ANU paper: −20.3 % MNIST)")


if __name__ == "__main__":
    main()
