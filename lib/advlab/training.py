"""The training loop of every zoo model and defense: clean, adversarial (DDN Eq. 6 / Eq. 9) or at a
temperature (defensive distillation), seeded, checkpointed atomically every epoch and resumable, in one
process or data-parallel over several (``DistributedDataParallel``: each process trains on, and attacks,
its shard of every global batch; ``process_group`` joins a ``torchrun`` launch).

``advlab.zoo`` names the models and their ``Recipe``; ``advlab.defenses`` (distillation, PGN) build
on ``fit`` and its helpers. This module imports neither, so either can be imported first.

Units: ``advlab.evaluate`` measures accuracies as fractions in [0, 1]; the manifest fields written
here (``test_accuracy``, ``holdout_accuracy``, ``holdout_robust_accuracy_eps…``) are percentages
rounded to 2 decimals, converted by ``as_percent`` where they are written.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

import advlab
from advlab import attacks
from advlab.attacks._common import project_lp_ball
from advlab.evaluate import accuracy, pgd_accuracy, rho_cw, run_attack
from advlab.fileio import atomic_path, sha256sum


@dataclass(frozen=True)
class Adversarial:
    """Adversarial training (chapters ddn, anu, pgn): the attack runs on the model in eval mode, its
    perturbation is renormed to ``max_norm`` (L2), and the loss is
    ``clean_weight·CE(x) + (1 − clean_weight)·CE(x̃)`` — DDN Eq. 6, or Eq. 9 with ``clean_weight=0``.

    ``attack`` names a function of ``advlab.attacks`` ("ddn", "anu", "pgd", "fgm"), called with
    ``attack_kwargs``; the budgeted ones ("pgd", "fgm") get ``eps=max_norm, norm=2``.
    """

    attack: str
    max_norm: float
    attack_kwargs: dict = field(default_factory=dict)
    clean_weight: float = 0.0


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
    train_subset: int | None = None  # first n training images only
    holdout: int = 0  # the last n training images are held out for per-epoch metrics
    adversarial: Adversarial | None = None
    temperature: float = 1.0  # logits are divided by T in the training loss (distillation)
    eval_eps: float | None = None  # per-epoch robust accuracy at this L2 ε (PGD-20) on the held-out images
    curve_images: int = 0  # per-epoch curve_metrics on the first n held-out images (0: none)
    init_from: str | None = None  # start from this zoo model's weights (same recipe name) instead of random
    seed: int = 0
    note: str = ""


def rank_and_world() -> tuple[int, int]:
    """(rank, number of processes) of this training process: (0, 1) unless a process group is initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextlib.contextmanager
def process_group(device: str | torch.device = "cpu"):
    """Join the process group of a ``torchrun`` launch (``WORLD_SIZE`` > 1 in the environment) for the block and
    yield this process's device: NCCL and ``cuda:<LOCAL_RANK>`` on GPUs, gloo and the CPU otherwise. Outside
    a launch (or already joined) it yields ``device`` and does nothing."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        yield device
        return
    cuda = str(device).startswith("cuda")
    if cuda:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        yield device
    finally:
        dist.destroy_process_group()


def _barrier() -> None:
    if rank_and_world()[1] > 1:
        dist.barrier()


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """The optimizer a recipe names (SGD with momentum/Nesterov, or Adam), over ``model``'s parameters."""
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


def as_percent(fraction: float) -> float:
    """A fraction in [0, 1] as the percentage, rounded to 2 decimals, that manifests record."""
    return round(100 * fraction, 2)


def adversarial_examples(model: nn.Module, x: torch.Tensor, y: torch.Tensor, spec: Adversarial) -> torch.Tensor:
    """The training perturbation of ``spec`` on a batch, projected to ‖δ‖₂ ≤ max_norm (DDN §5, Eq. 9).

    Samples the attack leaves clean (no adversarial found) are trained on the clean image, as in
    DDN's official training scripts (the paper does not say). The model is put back in training
    mode afterwards.
    """
    kwargs = dict(spec.attack_kwargs)
    if spec.attack in ("pgd", "fgm"):
        kwargs.update(eps=spec.max_norm, norm=2)
    model.eval()
    x_adv = getattr(attacks, spec.attack)(model, x, y, **kwargs)
    model.train()
    eps = torch.full((len(x),), spec.max_norm, dtype=x.dtype, device=x.device)
    return (x + project_lp_ball(x_adv - x, eps, 2)).clamp(0, 1).detach()


def save_state(path: Path, state: dict) -> None:
    """``torch.save`` through memory and an atomic rename (torch names the archive after the file)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def training_state_path(path: Path) -> Path:
    """Where ``fit`` keeps its per-epoch state for resuming: ``<checkpoint>.state``."""
    return Path(path).with_suffix(".state")


def split(train_set, recipe, targets: torch.Tensor | None = None):
    """A recipe's data: ``(images, labels, targets)`` to train on (the first ``train_subset`` images
    less the last ``holdout``), ``(held_images, held_labels)`` and the number of full batches."""
    end = len(train_set) if recipe.train_subset is None else recipe.train_subset
    start = end - recipe.holdout
    targets = train_set.labels if targets is None else targets
    images, labels = train_set.images, train_set.labels
    batches = start // recipe.batch_size
    if batches == 0:
        raise ValueError(f"recipe batch size {recipe.batch_size} exceeds the {start} training images")
    return (images[:start], labels[:start], targets[:start]), (images[start:end], labels[start:end]), batches


def fit(model: nn.Module, train_set, test_set, recipe: Recipe, path: Path, *, targets: torch.Tensor | None = None,
        progress: bool = True, device: str | torch.device = "cpu", description: str = "",
        on_epoch_end: Callable[[int, dict], None] | None = None) -> dict:
    """Train ``model`` with ``recipe``; save its state dict atomically at ``path``; return manifest fields.

    ``targets`` replaces the labels in the loss (soft labels, N × classes, for distillation). After
    every epoch the full training state (weights, optimizer, schedule, random generators, metrics)
    is written atomically beside ``path``; a call that finds such a state for the same recipe
    resumes from it, so an interrupted run ends with the same weights as an uninterrupted one (CPU).
    The last incomplete batch of each epoch is dropped (as in DDN's training scripts).

    In a process group of N processes (``process_group``) every process draws the same order and
    augmentation, takes every N-th sample of each global batch of ``recipe.batch_size`` (which N must
    divide), attacks and trains on it, and ``DistributedDataParallel`` averages the gradients: the
    weights equal the single-process run's up to floating-point reduction order, except that dropout
    masks are drawn per process and batch-norm statistics are computed per shard (no SyncBatchNorm).
    Process 0 writes the states and the checkpoint.
    """
    rank, world = rank_and_world()
    if recipe.batch_size % world:
        raise ValueError(f"batch size {recipe.batch_size} is not divisible by the {world} training processes")
    (images, labels, targets), (held_images, held_labels), batches = split(train_set, recipe, targets)

    torch.manual_seed(recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    # channels-last memory makes the conv nets' forward+backward about 1.2x cheaper on CPU
    # (benchmarks/bench_attacks.py); it changes no result beyond float rounding.
    model.to(device, memory_format=torch.channels_last)
    optimizer = make_optimizer(model, recipe)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(recipe.milestones), recipe.lr_decay)
    history: list[dict] = []
    state_path = training_state_path(path)
    if state_path.exists():
        state = torch.load(state_path, map_location="cpu", weights_only=False)  # RNG states stay CPU tensors
        if state["recipe"] == asdict(recipe):
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            generator.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
            history = state["history"]
    elapsed = sum(epoch["seconds"] for epoch in history)
    trainee = model if world == 1 else nn.parallel.DistributedDataParallel(
        model, device_ids=[torch.device(device)] if torch.device(device).type == "cuda" else None)

    for epoch in range(len(history), recipe.epochs):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(images), generator=generator)
        bar = tqdm(range(batches), desc=f"{description} epoch {epoch + 1}/{recipe.epochs}", disable=not progress,
                   leave=False)
        for b in bar:
            index = order[b * recipe.batch_size:(b + 1) * recipe.batch_size]
            x, y, t = images[index], labels[index], targets[index]
            x = augment(x, generator) if recipe.augment else x
            if world > 1:  # this process's shard of the global batch
                x, y, t = x[rank::world], y[rank::world], t[rank::world]
            x, y, t = x.to(device, memory_format=torch.channels_last), y.to(device), t.to(device)
            loss = recipe_loss(model, x, y, t, recipe, trainee)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if b % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
        schedule.step()
        last_loss = loss.detach().clone()
        if world > 1:  # the last global batch's loss, as one process would have computed it
            dist.all_reduce(last_loss)
            last_loss /= world
        metrics = {"epoch": epoch + 1, "loss": round(last_loss.item(), 4),
                   "seconds": round(time.perf_counter() - start, 1)}
        if recipe.holdout:
            model.eval()
            metrics["holdout_accuracy"] = as_percent(accuracy(model, held_images, held_labels))
            if recipe.eval_eps is not None:
                metrics[f"holdout_robust_accuracy_eps{recipe.eval_eps}"] = as_percent(
                    pgd_accuracy(model, held_images, held_labels, recipe.eval_eps))
            if recipe.curve_images:
                metrics.update(curve_metrics(model, held_images[:recipe.curve_images].to(device),
                                             held_labels[:recipe.curve_images].to(device)))
        history.append(metrics)
        elapsed += metrics["seconds"]
        if rank == 0:
            save_state(state_path, {"recipe": asdict(recipe), "model": model.state_dict(),
                                    "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                                    "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
                                    "history": history})
        _barrier()
        if progress and rank == 0:
            print(f"{description} " + ", ".join(f"{k} {v}" for k, v in metrics.items()), flush=True)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, metrics)

    model.eval()
    test_accuracy = accuracy(model, test_set.images, test_set.labels)
    if rank == 0:
        save_state(path, model.to(memory_format=torch.contiguous_format).state_dict())
        state_path.unlink(missing_ok=True)
    _barrier()
    return {
        "epochs": recipe.epochs, "seed": recipe.seed, "test_accuracy": as_percent(test_accuracy),
        "test_samples": len(test_set), "training_seconds": round(elapsed, 1), "history": history, "device": str(device),
        "processes": world,
        "advlab_version": advlab.__version__, "torch_version": torch.__version__, "sha256": sha256sum(path),
    }


def curve_metrics(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, steps: int = 100) -> dict:
    """A learning curve's robustness point (chapter pgn): ``holdout_rho_ddn``, the PGN paper's ρ (Eq. 6,
    misclassified images at distance 0) measured with DDN-``steps`` rather than C&W, cheap enough to
    run after every epoch. ``model`` is left in eval mode."""
    model.eval()
    result = run_attack(model, images, labels, lambda m, x, y, targeted: attacks.ddn(m, x, y, steps=steps))
    return {"holdout_rho_ddn": round(rho_cw(result), 4)}


def recipe_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, targets: torch.Tensor, recipe: Recipe,
                trainee: nn.Module | None = None) -> torch.Tensor:
    """The recipe's training loss: CE at temperature T on clean and/or adversarial inputs (DDN Eq. 6).

    The attack runs on ``model``; the loss's forward passes go through ``trainee`` (default ``model``; the
    ``DistributedDataParallel`` wrapper in a process group, whose backward averages the gradients).
    """
    trainee = model if trainee is None else trainee
    spec = recipe.adversarial
    if spec is None:
        return nn.functional.cross_entropy(trainee(x) / recipe.temperature, targets)
    x_adv = adversarial_examples(model, x, y, spec)
    if spec.clean_weight and trainee is not model:  # DDP takes one forward per backward: both halves at once
        logits = trainee(torch.cat([x_adv, x])) / recipe.temperature
        return ((1 - spec.clean_weight) * nn.functional.cross_entropy(logits[:len(x)], targets)
                + spec.clean_weight * nn.functional.cross_entropy(logits[len(x):], targets))
    loss = (1 - spec.clean_weight) * nn.functional.cross_entropy(trainee(x_adv) / recipe.temperature, targets)
    if spec.clean_weight:
        loss = loss + spec.clean_weight * nn.functional.cross_entropy(trainee(x) / recipe.temperature, targets)
    return loss
