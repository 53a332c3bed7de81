"""The zoo's catalogue: every model the chapters use, its architecture and its training recipes.

Also the papers' constants the recipes and chapters share: ``ANU_GAMMA``, ``ROBUST_EPS``,
``DISTILLATION_TEMPERATURES``, ``PGN_SWEEPS``, ``RETRAINED_VARIANTS`` and ``RETRAINED_SEEDS``. Recipes are data: a committed manifest records
``asdict(recipe)`` and the tests compare it with the entry here, so a changed value means retraining.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Callable

from torch import nn

from advlab.defenses.appended import AppendedExamples, AppendedRecipe, train_appended
from advlab.defenses.distillation import distill
from advlab.defenses.pgn import AttackerRecipe, PGNRecipe, train_attacker, train_pgn
from advlab.training import Adversarial, Recipe, fit
from advlab.zoo import architectures as arch

__all__ = ["ZooEntry", "ENTRIES", "get_entry", "ANU_GAMMA", "ROBUST_EPS", "DISTILLATION_TEMPERATURES", "PGN_SWEEPS",
           "PGN_MNIST", "PGN_ABLATIONS", "RETRAINED_VARIANTS", "RETRAINED_SEEDS"]


@dataclass(frozen=True)
class ZooEntry:
    """A named model: its architecture, dataset, the chapters that use it and its training recipes."""

    name: str
    dataset: str
    architecture: str
    build: Callable[[], nn.Module]
    chapters: tuple[str, ...]
    recipes: dict[str, Recipe] = field(default_factory=dict)
    trainer: Callable[..., dict] = fit  # fit's signature; e.g. defenses.distillation.distill


_CW_MNIST = "C&W MNIST CNN (conv 32-32-64-64, FC 200-200, dropout 0.5)"
_CW_CIFAR10 = "C&W CIFAR-10 CNN (conv 64-64-128-128, FC 256-256, dropout 0.5)"
_BUILD = {
    "mnist": lambda: arch.normalized(arch.cw_cnn(), "mnist"),
    "cifar10": lambda: arch.normalized(arch.cw_cnn(3, 32, (64, 64, 128, 128), (256, 256)), "cifar10"),
}
_FULL_CLEAN = {
    "mnist": Recipe(epochs=50, lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-6, milestones=(30,),
                    note="C&W / DDN MNIST recipe: SGD 0.01, Nesterov 0.9, 50 epochs, ×0.1 at 30"),
    "cifar10": Recipe(epochs=50, lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-6, milestones=(30,),
                      augment=True, note="C&W recipe, 50 epochs, crop+flip"),
}
_CLEAN_MNIST_QUICK = Recipe(epochs=4, lr=1e-3, optimizer="adam", note="Adam 1e-3, 4 epochs")

# Quick adversarial fine-tuning from the clean quick model, per dataset: images (+ held-out), robust-accuracy ε
# and optimizer: SGD 0.01 broke the 78 % CIFAR-10 base model (38 % clean after PGD-AT), Adam 5e-4 does not.
_QUICK_AT = {"mnist": (10_000, 500, 1.5, {"lr": 0.01, "momentum": 0.9}),
             "cifar10": (2_000, 200, 0.5, {"lr": 5e-4, "optimizer": "adam"})}


def _adversarial(dataset: str, attack: str, kwargs: dict, max_norm: float, chapters: tuple[str, ...],
                 quick_epochs: int = 1) -> ZooEntry:
    """An adversarially trained C&W network (DDN §5, Eq. 9; ANU §4): quick = ``quick_epochs`` on a few
    thousand images from the clean quick model (≤ 15 min on 2 CPU cores); full = the DDN paper's MNIST
    schedule (§5: 50 epochs, SGD 0.01, ×0.1 at 30) from scratch (for CIFAR-10 the paper trains a WRN-28-10)."""
    spec = Adversarial(attack, max_norm, kwargs)
    images, holdout, eval_eps, optimizer = _QUICK_AT[dataset]
    label = f"{attack.upper()}-AT ({', '.join(f'{k}={v}' for k, v in kwargs.items())}, ε {max_norm})"
    base = f"{dataset}-{'smallcnn' if dataset == 'mnist' else 'cnn'}"
    return ZooEntry(
        f"{base}-{attack}-at", dataset, _CW_MNIST if dataset == "mnist" else _CW_CIFAR10, _BUILD[dataset], chapters,
        {"quick": Recipe(epochs=quick_epochs, **optimizer, weight_decay=1e-6, train_subset=images + holdout,
                         holdout=holdout, adversarial=spec, eval_eps=eval_eps, init_from=base, augment=dataset == "cifar10",
                         note=f"{label}, {quick_epochs} epoch(s) on {images:,} images from {base}"
                              + (", Adam 5e-4" if dataset == "cifar10" else "")),
         "full": Recipe(epochs=50, lr=0.01, momentum=0.9, weight_decay=1e-6, milestones=(30,), holdout=5000,
                        adversarial=spec, eval_eps=eval_eps, augment=dataset == "cifar10",
                        note=f"{label}, 50 epochs SGD 0.01, ×0.1 at 30, from scratch")})


_QUICK_DISTILLATION = {"mnist": dict(epochs=2, train_subset=30_000), "cifar10": dict(epochs=4)}


def _distilled(dataset: str, temperature: float) -> ZooEntry:
    """EAD's defensive distillation of the C&W network at temperature T ("Breaking Defensive
    Distillation", Fig. 3, Tables 11-12)."""
    quick = _QUICK_DISTILLATION[dataset]
    images = f"{quick['train_subset'] // 1000}k" if "train_subset" in quick else "all"
    return ZooEntry(
        f"{dataset}-distilled-t{temperature:g}", dataset, _CW_MNIST if dataset == "mnist" else _CW_CIFAR10,
        _BUILD[dataset], ("ead",),
        {"quick": Recipe(lr=1e-3, optimizer="adam", temperature=temperature, **quick,
                         note=f"distilled at T={temperature:g}: teacher + student, Adam 1e-3, {quick['epochs']} epochs "
                              f"on {images} training images each"),
         "full": replace(_FULL_CLEAN[dataset], temperature=temperature, milestones=(),
                         note=f"distilled at T={temperature:g}: EAD/Papernot, teacher + student 50 epochs SGD 0.01")},
        trainer=distill)


# EAD's adversarial training (Tables 3, 14): the examples appended to the training set, by variant,
# each retrained with three seeds (the paper trains once; its effect is small).
RETRAINED_VARIANTS = {"clean": (), "ead-l1": ("ead-l1",), "cw": ("cw",), "ead-l1-cw": ("ead-l1", "cw")}
RETRAINED_SEEDS = (0, 1, 2)
_APPENDED_SCHEDULE = {"quick": {"search_steps": 5, "steps": 200, "initial_const": 0.1},
                      "full": {"search_steps": 9, "steps": 1000, "initial_const": 1e-3}}


def _retrained(variant: str, seed: int) -> ZooEntry:
    """The C&W MNIST network retrained on the training set plus the variant's adversarial examples
    (``defenses.appended``): quick = mnist-smallcnn's recipe, examples of 1000 training images × 9
    targets at the chapter's reduced schedule; full = the paper's recipe and schedule."""
    def recipe(name: str, base: Recipe) -> AppendedRecipe:
        attacks = RETRAINED_VARIANTS[variant]
        appended = AppendedExamples(attacks, source_recipe=name, attack_kwargs=_APPENDED_SCHEDULE[name]) if attacks else None
        label = " + ".join(attacks) or "no"
        return AppendedRecipe(**{**asdict(base), "seed": seed, "note": f"{base.note}; {label} examples appended, seed {seed}"},
                              appended=appended)
    return ZooEntry(f"mnist-retrained-{variant}-s{seed}", "mnist", _CW_MNIST, _BUILD["mnist"], ("ead",),
                    {"quick": recipe("quick", _CLEAN_MNIST_QUICK), "full": recipe("full", _FULL_CLEAN["mnist"])},
                    trainer=train_appended)


DISTILLATION_TEMPERATURES = (1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)  # EAD Tables 11-12

# The PGN paper's robustness curves (Section 4.2): one classifier architecture (ConvPool-CNN) trained
# by FGM-AT and PGD-AT over a sweep of ε and by PGN over a sweep of c_L. The paper states no sweep
# values. quick: width 16, 6 clean epochs on 10k images, then 2-epoch fine-tunes on 4k images (each
# ≤ 4 min on 2 CPU cores); full: the paper's width 64, Adam 5e-4, 200 epochs, EMA 0.998 for PGN.
PGN_SWEEPS = {"quick": {"fgm": (0.1, 0.25, 0.5), "pgd": (0.1, 0.25, 0.5), "pgn": (0.05, 0.2, 1.0)},
              "full": {"fgm": (0.02, 0.1, 0.5), "pgd": (0.02, 0.1, 0.5), "pgn": (30.0, 50.0, 70.0)}}


def _convpool_entries(width: int, recipe: str) -> list[ZooEntry]:
    """The clean ConvPool-CNN of width ``width`` and its FGM-AT, PGD-AT and PGN versions (chapter pgn)."""
    base = f"cifar10-convpool{width}"
    build = lambda: arch.normalized(arch.convpool_cnn(3, 10, width), "cifar10")  # noqa: E731
    architecture = f"PGN ConvPool-CNN, width {width} (leaky-ReLU, average pooling)"
    quick = recipe == "quick"
    data = (dict(train_subset=4_500, holdout=500, batch_size=64, init_from=base, epochs=2) if quick
            else dict(holdout=5_000, batch_size=128, epochs=200, augment=True))
    clean = (Recipe(epochs=6, lr=1e-3, optimizer="adam", train_subset=10_500, holdout=500, note="Adam 1e-3, 6 epochs on 10k images")
             if quick else Recipe(epochs=200, lr=5e-4, optimizer="adam", holdout=5_000, augment=True, note="Adam 5e-4, 200 epochs"))
    entries = [ZooEntry(base, "cifar10", architecture, build, ("pgn",), {recipe: clean})]
    for attack in ("fgm", "pgd"):
        for eps in PGN_SWEEPS[recipe][attack]:
            kwargs = {"steps": 10, "step_size": eps / 6, "random_init": True} if attack == "pgd" else {}
            entries.append(ZooEntry(
                f"{base}-{attack}-at-eps{eps:g}", "cifar10", architecture, build, ("pgn",),
                {recipe: Recipe(lr=5e-4, optimizer="adam", adversarial=Adversarial(attack, eps, kwargs),
                                note=f"{attack.upper()}-AT ε {eps:g}, Adam 5e-4, {data['epochs']} epochs", **data)}))
    for c_l in PGN_SWEEPS[recipe]["pgn"]:
        pgn = (PGNRecipe(c_l=c_l, ema_decay=0.0, generator_width=16, generator_init_scale=0.0, **data) if quick
               else PGNRecipe(c_l=c_l, **data))
        entries.append(ZooEntry(f"{base}-pgn-cl{c_l:g}", "cifar10", architecture, build, ("pgn",),
                                {recipe: replace(pgn, note=f"PGN c_L {c_l:g}, Adam 5e-4, {data['epochs']} epochs")},
                                trainer=train_pgn))
    return entries


# The MNIST version of the whole PGN experiment (the quick one; the CIFAR-10 sweep above does not fit a CPU):
# the ConvPool-CNN at width 8 on 28×28×1 (E5: width 16), every method from scratch on the same 20k training
# images (+ 1k held out) for the same 15 epochs, Adam 5e-4 and batch 128 (Table 1), each epoch's held-out
# accuracy, ρ by DDN-100 and, for PGN, the generator's strength recorded as learning curves. PGN: generator
# width 16 and first dense layer 256 (Table 1: 128 and 1024, for 32×32×3), EMA 0.99 (Table 1's 0.998 averages
# over 500 steps, a sixth of these runs). The ablations (second-order step, Eq. 4's tanh-space penalty, each
# generator input removed) are at the middle c_L. E1's attackers: a generator trained alone for 1200 steps
# against the frozen FGM-AT and PGD-AT classifiers of ε 1.
PGN_MNIST = {"fgm": (0.5, 1.0, 2.0), "pgd": (0.5, 1.0, 2.0), "pgn": (0.3, 0.1, 0.04), "wide_pgn": (0.3, 0.1),
             "attacker": (0.3, 0.1, 0.05), "attacked_eps": 1.0, "ablated_c_l": 0.1}
PGN_ABLATIONS = {"second-order": {"double_backprop": True}, "tanh-penalty": {"penalty": "tanh"},
                 "no-gradient": {"generator_inputs": ("label", "image")},
                 "no-image": {"generator_inputs": ("label", "gradient")},
                 "no-label": {"generator_inputs": ("gradient", "image")}}


def _mnist_pgn_entries() -> list[ZooEntry]:
    """The MNIST ConvPool-CNNs of chapter pgn: clean, FGM-AT, PGD-AT, PGN (+ width 16, ablations, E1's attackers)."""
    data = dict(train_subset=21_000, holdout=1_000, batch_size=128, epochs=15, curve_images=200)
    label = "20k images, 15 epochs, Adam 5e-4"

    def entries(width: int) -> list[ZooEntry]:
        base = f"mnist-convpool{width}"
        build = lambda: arch.normalized(arch.convpool_cnn(1, 10, width), "mnist")  # noqa: E731
        architecture = f"PGN ConvPool-CNN, width {width}, 28×28×1 (leaky-ReLU, average pooling)"
        pgn = lambda c_l, **changes: PGNRecipe(c_l=c_l, ema_decay=0.99, generator_width=16, generator_hidden=256,  # noqa: E731
                                               generator_init_scale=0.0, **data, **changes)
        out = [ZooEntry(base, "mnist", architecture, build, ("pgn",),
                        {"quick": Recipe(lr=5e-4, optimizer="adam", **data, note=f"clean, {label}")})]
        c_ls = PGN_MNIST["pgn"] if width == 8 else PGN_MNIST["wide_pgn"]
        out += [ZooEntry(f"{base}-pgn-cl{c_l:g}", "mnist", architecture, build, ("pgn",),
                         {"quick": replace(pgn(c_l), note=f"PGN c_L {c_l:g}, {label}")}, trainer=train_pgn) for c_l in c_ls]
        if width > 8:
            return out
        for attack in ("fgm", "pgd"):
            for eps in PGN_MNIST[attack]:
                kwargs = {"steps": 10, "step_size": eps / 6, "random_init": True} if attack == "pgd" else {}
                out.append(ZooEntry(f"{base}-{attack}-at-eps{eps:g}", "mnist", architecture, build, ("pgn",),
                                    {"quick": Recipe(lr=5e-4, optimizer="adam", adversarial=Adversarial(attack, eps, kwargs),
                                                     **data, note=f"{attack.upper()}-AT ε {eps:g}, {label}")}))
        c_l = PGN_MNIST["ablated_c_l"]
        out += [ZooEntry(f"{base}-pgn-cl{c_l:g}-{name}", "mnist", architecture, build, ("pgn",),
                         {"quick": replace(pgn(c_l, **changes), note=f"PGN c_L {c_l:g}, {name}, {label}")}, trainer=train_pgn)
                for name, changes in PGN_ABLATIONS.items()]
        eps = PGN_MNIST["attacked_eps"]
        for attack in ("fgm", "pgd"):
            target = f"{base}-{attack}-at-eps{eps:g}"
            out += [ZooEntry(f"{target}-attacker-cl{c_l:g}", "mnist", architecture, build, ("pgn",),
                             {"quick": AttackerRecipe(steps=1200, c_l=c_l, init_from=target, generator_width=32,
                                                      generator_hidden=256, train_subset=21_000, holdout=1_000, every=200,
                                                      curve_images=500,
                                                      note=f"a generator trained alone against frozen {target}, c_L {c_l:g}, 1200 steps")},
                             trainer=train_attacker) for c_l in PGN_MNIST["attacker"]]
        return out

    return entries(8) + entries(16)


# ANU's untargeted γ₀ / α_γ per dataset (ANU §5), also used inside ANU adversarial training (which the paper does
# not state).
ANU_GAMMA = {"mnist": {"gamma_init": 0.4, "alpha_gamma": 0.15}, "cifar10": {"gamma_init": 0.2, "alpha_gamma": 0.1}}

ENTRIES: dict[str, ZooEntry] = {e.name: e for e in [
    ZooEntry("mnist-smallcnn", "mnist", _CW_MNIST, _BUILD["mnist"], ("intro", "ddn", "anu", "ead"),
             {"quick": _CLEAN_MNIST_QUICK,
              "full": _FULL_CLEAN["mnist"]}),
    ZooEntry("mnist-lenet5", "mnist", "LeNet-5 (ReLU, max-pool)",
             lambda: arch.normalized(arch.lenet5(), "mnist"), ("convex",),
             {"quick": Recipe(epochs=10, lr=1e-3, optimizer="adam", milestones=(7,), note="Adam 1e-3, 10 epochs, ×0.1 at 7"),
              "full": Recipe(epochs=20, lr=1e-3, optimizer="adam", milestones=(10, 15), note="Adam 1e-3, 20 epochs")}),
    ZooEntry("mnist-fcnn", "mnist", "FCNN 784-150-100-10 (ReLU)",
             lambda: arch.normalized(arch.fcnn(), "mnist"), ("convex",),
             {"quick": Recipe(epochs=15, lr=1e-3, optimizer="adam", milestones=(10,), note="Adam 1e-3, 15 epochs, ×0.1 at 10"),
              "full": Recipe(epochs=20, lr=1e-3, optimizer="adam", milestones=(10, 15), note="Adam 1e-3, 20 epochs")}),
    ZooEntry("cifar10-cnn", "cifar10", _CW_CIFAR10, _BUILD["cifar10"], ("intro", "ddn", "anu", "ead"),
             {"quick": Recipe(epochs=14, lr=1e-3, optimizer="adam", milestones=(10, 12), augment=True,
                              note="Adam 1e-3, 14 epochs, ×0.1 at 10 and 12, crop+flip"),
              "full": _FULL_CLEAN["cifar10"]}),
    _adversarial("mnist", "ddn", {"steps": 100}, 2.4, ("ddn", "anu")),
    _adversarial("mnist", "anu", {"steps": 70, **ANU_GAMMA["mnist"]}, 2.4, ("anu",)),  # ANU §5.3: ANU-70
    # Madry et al. in L2 (their public model is L∞): ε 2.0, 10 steps of 2.5ε/10, random start;
    # at ε 2.4 one quick epoch left the model at 69 % clean accuracy.
    _adversarial("mnist", "pgd", {"steps": 10, "step_size": 0.5, "random_init": True}, 2.0, ("ddn",), quick_epochs=3),
    _adversarial("cifar10", "ddn", {"steps": 100}, 1.0, ("ddn", "anu")),
    _adversarial("cifar10", "anu", {"steps": 80, **ANU_GAMMA["cifar10"]}, 1.0, ("anu",)),  # ANU §5.3: ANU-80
    # L2 PGD-AT at the usual CIFAR-10 L2 budget ε 0.5 (Madry's public CIFAR-10 model is L∞ 8/255).
    _adversarial("cifar10", "pgd", {"steps": 10, "step_size": 0.125, "random_init": True}, 0.5, ("ddn",), quick_epochs=3),
    *(_distilled(dataset, t) for dataset in ("mnist", "cifar10") for t in DISTILLATION_TEMPERATURES),
    *(_retrained(variant, seed) for variant in RETRAINED_VARIANTS for seed in RETRAINED_SEEDS),
    *_convpool_entries(16, "quick"),
    *_convpool_entries(64, "full"),
    *_mnist_pgn_entries(),
    ZooEntry("cifar10-wrn28-10", "cifar10", "Wide ResNet 28-10 (dropout 0.3)",
             lambda: arch.normalized(arch.wide_resnet(28, 10), "cifar10"), ("ddn",),
             {"full": Recipe(epochs=200, lr=0.1, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
                             milestones=(60, 120, 160), lr_decay=0.2, augment=True,
                             note="Zagoruyko & Komodakis: SGD 0.1, ×0.2 at 60/120/160, 200 epochs (GPU only)")}),
    # The Convex paper's CIFAR-10 models (Table I: 13.8 % and 5.2 % test error). Its NIN's training is not
    # stated; the DenseNet follows the tensorpack example it used, whose weight decay skips BN and biases.
    ZooEntry("cifar10-nin", "cifar10", "Network In Network (mlpconv 192-160-96, 192-192-192, 192-192-10, dropout 0.5)",
             lambda: arch.normalized(arch.nin(), "cifar10"), ("convex",),
             {"full": Recipe(epochs=120, lr=0.1, momentum=0.9, weight_decay=1e-4, milestones=(60, 90), augment=True,
                             note="SGD 0.1, ×0.1 at 60/90, 120 epochs, crop+flip; the paper does not state "
                                  "its NIN's training (GPU only)")}),
    ZooEntry("cifar10-densenet40", "cifar10", "DenseNet-40 (growth 12, no bottleneck or compression)",
             lambda: arch.normalized(arch.densenet(40, 12), "cifar10"), ("convex",),
             {"full": Recipe(epochs=300, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4, batch_size=64,
                             milestones=(150, 225), augment=True,
                             note="tensorpack DenseNet example: SGD 0.1, Nesterov 0.9, ×0.1 at 150/225, 300 epochs, "
                                  "batch 64, crop+flip (GPU only)")}),
]}


ROBUST_EPS = {"mnist": 1.5, "cifar10": 0.5}  # the bounds of the DDN paper's Tables 5-6


def get_entry(name: str, recipe: str) -> ZooEntry:
    """The entry of model ``name``; ValueError naming the known models (or its recipes) if there is none."""
    if name not in ENTRIES:
        raise ValueError(f"unknown zoo model {name!r}; known: {', '.join(ENTRIES)}")
    entry = ENTRIES[name]
    if recipe not in entry.recipes:
        raise ValueError(f"model {name!r} has no recipe {recipe!r}; it has: {', '.join(entry.recipes)}")
    return entry
