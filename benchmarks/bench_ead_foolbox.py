"""advlab's ``ead`` against Foolbox's ``EADAttack`` (3.3.4): same model, images, schedule and settings.

On the zoo's MNIST SmallCNN (quick recipe) and the first ``--images`` MNIST test images, untargeted,
both attacks run ``--search-steps`` binary-search rounds of ``--steps`` iterations with β = ``--beta``,
c₀ = ``--initial-const``, step size 0.01 with square-root decay, κ = 0, no early abort and one
decision rule. Their algorithms are the same (EAD Algorithm 1 with momentum k/(k + 3), threshold β,
the κ-shifted argmax success test of every x_k, the EN / L1 selection, C&W's binary search on c), so
the results should agree. Known differences, none active here: Foolbox repeats the last round at the
upper bound when there are 10 or more rounds (advlab's ``ead`` does not), its early abort (off here)
compares the loss summed over the batch, its margin loss picks one class on tied logits (advlab's
splits the gradient), and where it finds no adversarial example it returns an all-zero image
(advlab: the clean input); those samples count as failures and are left out of the L1 comparison.

Prints, per decision rule: successes, mean L1 over the samples both attacks succeeded on, the
per-sample max |ΔL1| there, whether those examples are bit-identical, and the time of one attack
(median of ``--repeats`` runs, advlab and Foolbox alternating, each repeat starting with the other
one) with the ratio advlab / Foolbox (the median of the ratios of the two runs of each repeat, so
that load changes on a shared machine cancel).
Foolbox's ``run`` is timed (the attack itself, without ``__call__``'s extra success check).

``--store PATH`` also writes Foolbox's per-sample L1 and the settings as JSON: the reference that
``tests/test_attacks_ead.py`` checks advlab against without Foolbox, made with

    python benchmarks/bench_ead_foolbox.py --images 10 --search-steps 2 --steps 50 --initial-const 0.3 \\
        --repeats 1 --store tests/data/foolbox_ead_reference.json

Run (Foolbox is in the bench extra, installed by ``make env`` from requirements.lock):

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_ead_foolbox.py --out benchmarks/results/ead_foolbox.json
    # 50 images, 5 × 200, β = 0.01
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import foolbox
import torch

from advlab import data, zoo
from advlab.attacks import ead

MODEL, RECIPE = "mnist-smallcnn", "quick"


def l1_distances(adv: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    return (adv - inputs).flatten(1).abs().sum(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--search-steps", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--beta", type=float, default=0.01)
    parser.add_argument("--initial-const", type=float, default=1e-3)
    parser.add_argument("--rules", nargs="+", default=["EN", "L1"], choices=["EN", "L1"])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per attack and rule, interleaved")
    parser.add_argument("--store", type=Path, help="write Foolbox's per-sample L1 and the settings here (JSON)")
    parser.add_argument("--out", type=Path, help="write the table's rows and the settings here (JSON; the EAD chapter reads "
                                                 "benchmarks/results/ead_foolbox.json)")
    args = parser.parse_args()

    model = zoo.load(MODEL, RECIPE)
    dataset = data.first_test_images("mnist", args.images)
    inputs, labels = dataset.images, dataset.labels
    settings = dict(search_steps=args.search_steps, steps=args.steps, beta=args.beta,
                    initial_const=args.initial_const, learning_rate=0.01, kappa=0.0, targeted=False)
    fmodel = foolbox.PyTorchModel(model, bounds=(0, 1), device="cpu")
    criterion = foolbox.criteria.Misclassification(labels)

    def run_advlab(rule: str) -> torch.Tensor:
        return ead(model, inputs, labels, beta=args.beta, initial_const=args.initial_const, learning_rate=0.01,
                   kappa=0.0, search_steps=args.search_steps, steps=args.steps, decision_rule=rule)

    def run_foolbox(rule: str) -> torch.Tensor:
        attack = foolbox.attacks.EADAttack(binary_search_steps=args.search_steps, steps=args.steps,
                                           initial_stepsize=0.01, confidence=0.0, initial_const=args.initial_const,
                                           regularization=args.beta, decision_rule=rule, abort_early=False)
        return attack.run(fmodel, inputs, criterion)

    print(f"{MODEL} ({RECIPE}), first {args.images} MNIST test images, untargeted, {args.search_steps} × "
          f"{args.steps}, β = {args.beta}, c₀ = {args.initial_const}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, foolbox {foolbox.__version__}; "
          f"median of {args.repeats} interleaved runs")
    print("| rule | success advlab | success Foolbox | mean L1 advlab | mean L1 Foolbox | max |ΔL1| "
          "| identical | s advlab | s Foolbox | advlab / Foolbox |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    reference, rows = {}, []
    runs = {"advlab": run_advlab, "foolbox": run_foolbox}
    for rule in args.rules:
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        results: dict[str, torch.Tensor] = {}
        for repeat in range(args.repeats):
            for name in (list(runs) if repeat % 2 == 0 else list(runs)[::-1]):
                start = time.perf_counter()
                results[name] = runs[name](rule)
                seconds[name].append(time.perf_counter() - start)
        with torch.no_grad():  # Foolbox returns an all-zero image where it found no adversarial example
            success = {"advlab": model(results["advlab"]).argmax(1) != labels,
                       "foolbox": results["foolbox"].flatten(1).any(1)}
        both = success["advlab"] & success["foolbox"]
        l1 = {name: l1_distances(adv, inputs) for name, adv in results.items()}
        gap = (l1["advlab"] - l1["foolbox"])[both].abs().max().item() if both.any() else float("nan")
        time_advlab, time_foolbox = statistics.median(seconds["advlab"]), statistics.median(seconds["foolbox"])
        ratio = statistics.median(a / f for a, f in zip(seconds["advlab"], seconds["foolbox"]))  # adjacent runs
        identical = torch.equal(results["advlab"][both], results["foolbox"][both])
        print(f"| {rule} | {int(success['advlab'].sum())}/{args.images} | {int(success['foolbox'].sum())}/{args.images}"
              f" | {l1['advlab'][both].mean():.4f} | {l1['foolbox'][both].mean():.4f} | {gap:.3g} | {identical} "
              f"| {time_advlab:.2f} | {time_foolbox:.2f} | {ratio:.3f} |")
        rows.append({"rule": rule, "images": args.images, "success advlab": int(success["advlab"].sum()),
                     "success Foolbox": int(success["foolbox"].sum()), "mean L1 advlab": l1["advlab"][both].mean().item(),
                     "mean L1 Foolbox": l1["foolbox"][both].mean().item(), "max |ΔL1|": gap, "bit-identical": identical,
                     "s advlab": round(time_advlab, 2), "s Foolbox": round(time_foolbox, 2), "advlab / Foolbox": round(ratio, 3)})
        reference[rule] = [value if ok else None
                           for value, ok in zip(l1["foolbox"].tolist(), success["foolbox"].tolist())]

    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"settings": settings, "model": f"{MODEL} ({RECIPE})", "repeats": args.repeats,
                                        "hardware": f"CPU, {torch.get_num_threads()} threads", "torch": torch.__version__,
                                        "foolbox": foolbox.__version__, "rows": rows}, indent=1) + "\n")
    if args.store:
        args.store.parent.mkdir(parents=True, exist_ok=True)
        args.store.write_text(json.dumps({
            "description": "Foolbox EADAttack's per-sample L1 (null: no adversarial example found); "
                           "written by benchmarks/bench_ead_foolbox.py --store",
            "foolbox": foolbox.__version__, "torch": torch.__version__,
            "model": MODEL, "recipe": RECIPE, "dataset": "mnist", "first_test_images": args.images,
            "settings": settings, "l1": reference}, indent=1) + "\n")
        print(f"wrote {args.store}")


if __name__ == "__main__":
    main()
