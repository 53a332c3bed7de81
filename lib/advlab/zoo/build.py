"""Building zoo models: ``train`` one from its recipe, ``evaluate`` its robust accuracy; both write
its manifest (``advlab zoo train`` / ``advlab zoo evaluate``)."""

from __future__ import annotations

from dataclasses import asdict

import torch

from advlab import data
from advlab.evaluate import pgd_accuracy
from advlab.training import as_percent, fit, process_group, rank_and_world
from advlab.zoo.catalog import ROBUST_EPS, get_entry
from advlab.zoo.store import checkpoint_path, load, manifest, write_manifest

__all__ = ["train", "evaluate"]


def train(name: str, recipe: str = "quick", *, progress: bool = True, device: str | torch.device = "cpu") -> dict:
    """Train ``name`` with its recipe (from the weights of ``recipe.init_from`` if set), write checkpoint
    and manifest atomically, measure its robust accuracy (``evaluate``) and return the manifest.

    Under ``torchrun`` (``advlab zoo train --nproc N``) every process joins the process group
    (``training.process_group``) and trains its shard; process 0 writes the manifest and evaluates.
    """
    entry = get_entry(name, recipe)
    plan = entry.recipes[recipe]
    train_set, test_set = data.load(entry.dataset, "train"), data.load(entry.dataset, "test")
    with process_group(device) as device:
        if rank_and_world()[1] > 1 and entry.trainer is not fit:
            raise ValueError(f"{name!r} is trained by {entry.trainer.__name__}, which runs in one process only; "
                             "train it without --nproc")
        torch.manual_seed(plan.seed)  # the initial weights are part of the recipe
        model = entry.build()
        if plan.init_from:
            model.load_state_dict(load(plan.init_from, recipe).state_dict())
        result = entry.trainer(model, train_set, test_set, plan, checkpoint_path(name, recipe), progress=progress,
                               device=device, description=f"{name} ({recipe})")
        if rank_and_world()[0] != 0:
            return manifest(name, recipe) or {}
    write_manifest(name, recipe, {
        "name": name, "recipe": recipe, "architecture": entry.architecture, "dataset": entry.dataset,
        "data_source": train_set.source, **result, "recipe_settings": asdict(plan),
    })
    return evaluate(name, recipe)


def evaluate(name: str, recipe: str = "quick", images: int = 1000) -> dict:
    """Measure robust accuracy (L2 PGD-20 at the dataset's ``ROBUST_EPS``) on the first ``images`` test
    images and record it in the manifest, in percent; return the updated manifest."""
    entry, model = get_entry(name, recipe), load(name, recipe)
    test, eps = data.first_test_images(entry.dataset, images), ROBUST_EPS[entry.dataset]
    robust = pgd_accuracy(model, test.images, test.labels, eps)
    fields = {**manifest(name, recipe), "robust_accuracy": as_percent(robust), "robust_eps": eps,
              "robust_attack": "L2 PGD-20, step 2.5ε/20, no random start", "robust_images": images}
    write_manifest(name, recipe, fields)
    return fields
