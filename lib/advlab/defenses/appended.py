"""Adversarial training by appending adversarial examples to the training set (EAD paper,
"Complementing Adversarial Training", Tables 3 and 14; chapter ead).

The paper attacks 1000 random training images towards each of their 9 other classes with the
undefended network, gives the 9000 examples their original labels, appends them to the training
set and retrains the network ("EAD + C&W" appends both sets). Here the attacked images are the
first ``images`` training images (deterministic), every example is appended (a failed attack
appends its clean image, which only repeats a training image), and training then follows the
recipe exactly as for a clean model (``advlab.training.fit``), so that the appended examples are
the only difference from the clean model of the same seed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from advlab.attacks import carlini_wagner_l2, ead_rules
from advlab import project_root
from advlab.training import Recipe, fit, save_state

EXAMPLE_ATTACKS = ("cw", "ead-l1", "ead-en")  # C&W-L2; EAD with the L1 or the EN decision rule


@dataclass(frozen=True)
class AppendedExamples:
    """What is appended: targeted examples of ``attacks`` (among ``EXAMPLE_ATTACKS``) of the first
    ``images`` training images, each towards all other classes, crafted on zoo model ``source`` (its
    recipe ``source_recipe``) with ``attack_kwargs`` (the C&W / EAD schedule) and, for EAD, ``beta``."""

    attacks: tuple[str, ...]
    images: int = 1000
    source: str = "mnist-smallcnn"
    source_recipe: str = "quick"
    attack_kwargs: dict = field(default_factory=dict)
    beta: float = 1e-3


@dataclass(frozen=True)
class AppendedRecipe(Recipe):
    """A clean ``Recipe`` plus the examples appended to its training set (None: the clean model)."""

    appended: AppendedExamples | None = None


def _cache_path(spec: AppendedExamples, attack: str, source_sha256: str) -> Path:
    key = json.dumps([attack, spec.images, spec.source, source_sha256, spec.attack_kwargs, spec.beta], sort_keys=True)
    return project_root() / "data" / "cache" / f"appended-{attack}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"


def _craft(model: nn.Module, attack: str, x: torch.Tensor, t: torch.Tensor, spec: AppendedExamples) -> dict:
    if attack == "cw":
        return {"cw": carlini_wagner_l2(model, x, t, targeted=True, abort_early=False, **spec.attack_kwargs)}
    adv = ead_rules(model, x, t, targeted=True, beta=spec.beta, **spec.attack_kwargs)
    return {"ead-en": adv["EN"], "ead-l1": adv["L1"]}  # one EAD run gives both rules


def training_examples(spec: AppendedExamples, attack: str, train_set, *, device: str | torch.device = "cpu", batch_size: int = 1000) -> torch.Tensor:
    """The examples of ``attack`` for ``spec``: (images · (classes − 1)) inputs, image-major, targets in
    increasing class order; computed once and cached under data/cache (keyed by the source
    checkpoint's sha256 and the settings), written atomically."""
    from advlab.chapter.samples import other_classes
    from advlab.zoo import load, manifest

    if attack not in EXAMPLE_ATTACKS:
        raise ValueError(f"unknown example attack {attack!r}; use one of {', '.join(EXAMPLE_ATTACKS)}")
    sha256 = manifest(spec.source, spec.source_recipe)["sha256"]
    path = _cache_path(spec, attack, sha256)
    if not path.exists():
        model = load(spec.source, spec.source_recipe, device=device).eval()
        labels = train_set.labels[:spec.images]
        targets = other_classes(labels, len(train_set.classes)).reshape(-1)
        inputs = train_set.images[:spec.images].repeat_interleave(len(targets) // len(labels), 0)
        crafted: dict[str, list] = {}
        for i in range(0, len(inputs), batch_size):
            batch = _craft(model, attack, inputs[i:i + batch_size].to(device), targets[i:i + batch_size].to(device), spec)
            for name, adv in batch.items():
                crafted.setdefault(name, []).append(adv.detach().cpu())
        for name, parts in crafted.items():
            save_state(_cache_path(spec, name, sha256), torch.cat(parts))
    return torch.load(path, weights_only=True)


def train_appended(model: nn.Module, train_set, test_set, recipe: AppendedRecipe, path: Path, *,
                   progress: bool = True, device: str | torch.device = "cpu", description: str = "") -> dict:
    """``fit`` on the training set with every example of ``recipe.appended`` appended under its original
    label (EAD Table 3: "EAD + C&W" appends both sets). Returns fit's manifest fields plus the count
    of appended examples."""
    spec = recipe.appended
    if spec is None:
        return fit(model, train_set, test_set, recipe, path, progress=progress, device=device, description=description)
    if recipe.train_subset is not None or recipe.holdout:
        raise ValueError("a recipe with appended examples trains on the whole training set: "
                         "train_subset and holdout would cut the appended examples off")
    examples = [training_examples(spec, attack, train_set, device=device) for attack in spec.attacks]
    per_image = len(examples[0]) // spec.images
    labels = train_set.labels[:spec.images].repeat_interleave(per_image)
    appended = type(train_set)(train_set.name, train_set.split, torch.cat([train_set.images, *examples]),
                               torch.cat([train_set.labels, *(labels for _ in examples)]),
                               f"{train_set.source} + {len(examples) * len(labels):,} appended examples",
                               train_set.classes)
    fields = fit(model, appended, test_set, recipe, path, progress=progress, device=device, description=description)
    return {**fields, "appended_examples": len(examples) * len(labels)}
