"""Supervised training of zoo models from a recipe, seeded and saved atomically."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

import advlab
from advlab.fileio import atomic_path, sha256sum


@dataclass(frozen=True)
class Recipe:
    """How a zoo model is trained. ``note`` is the one-line summary shown in ``advlab zoo list``."""

    epochs: int
    lr: float
    optimizer: str = "sgd"  # "sgd" | "adam"
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    batch_size: int = 128
    milestones: tuple[int, ...] = ()
    lr_decay: float = 0.1
    augment: bool = False  # random crop (padding 4) + horizontal flip
    train_subset: int | None = None  # first n training images only (tests)
    seed: int = 0
    note: str = ""


def _optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    if recipe.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                               nesterov=recipe.nesterov, weight_decay=recipe.weight_decay)
    raise ValueError(f"unknown optimizer {recipe.optimizer!r}; use 'sgd' or 'adam'")


def augment(images: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Random crop after zero padding and random horizontal flip, per sample, vectorised."""
    n, _, h, w = images.shape
    padded = nn.functional.pad(images, (padding,) * 4)
    dy, dx = (torch.randint(0, 2 * padding + 1, (2, n), generator=generator))
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
    flip = torch.rand(n, generator=generator) < 0.5
    cols = torch.where(flip[:, None, None, None], cols.flip(-1), cols)
    return padded[torch.arange(n)[:, None, None, None], torch.arange(images.shape[1])[None, :, None, None], rows, cols]


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy in percent of an eval-mode model."""
    device = next(model.parameters()).device
    correct = sum((model(images[i:i + batch_size].to(device)).argmax(1).cpu() == labels[i:i + batch_size]).sum().item()
                  for i in range(0, len(images), batch_size))
    return 100.0 * correct / len(images)


def fit(model: nn.Module, train_set, test_set, recipe: Recipe, path: Path, *, progress: bool = True,
        device: str | torch.device = "cpu", description: str = "") -> dict:
    """Train ``model`` on ``train_set`` with ``recipe``; save its state dict atomically at ``path``.

    Returns the manifest fields measured here: epochs, seed, test accuracy, seconds, sha256, versions.
    The last incomplete batch of each epoch is dropped (as in DDN's training scripts).
    """
    torch.manual_seed(recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    images, labels = train_set.images, train_set.labels
    if recipe.train_subset is not None:
        images, labels = images[:recipe.train_subset], labels[:recipe.train_subset]
    model.to(device).train()
    optimizer = _optimizer(model, recipe)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(recipe.milestones), recipe.lr_decay)
    batches = len(images) // recipe.batch_size
    if batches == 0:
        raise ValueError(f"recipe batch size {recipe.batch_size} exceeds the {len(images)} training images")
    start = time.perf_counter()
    for epoch in range(recipe.epochs):
        order = torch.randperm(len(images), generator=generator)
        bar = tqdm(range(batches), desc=f"{description} epoch {epoch + 1}/{recipe.epochs}", disable=not progress,
                   leave=False)
        for b in bar:
            index = order[b * recipe.batch_size:(b + 1) * recipe.batch_size]
            x = images[index]
            x = augment(x, generator) if recipe.augment else x
            loss = nn.functional.cross_entropy(model(x.to(device)), labels[index].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if b % 50 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
        schedule.step()
    seconds = time.perf_counter() - start
    model.eval()
    test_accuracy = accuracy(model, test_set.images, test_set.labels)
    buffer = io.BytesIO()  # saved from memory: torch names the archive after the file, and tmp names are random
    torch.save(model.state_dict(), buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return {
        "epochs": recipe.epochs, "seed": recipe.seed, "test_accuracy": round(test_accuracy, 2),
        "test_samples": len(test_set), "training_seconds": round(seconds, 1), "device": str(device),
        "advlab_version": advlab.__version__, "torch_version": torch.__version__, "sha256": sha256sum(path),
    }
