"""Which images a chapter attacks, and towards which targets (one rule for every chapter).

Rule: a chapter attacks the first ``n`` test images, in test-set order, that every model in
``correct_for`` classifies correctly (all first ``n`` when ``correct_for`` is empty). A
misclassified image needs no perturbation (distance 0) and would pull means towards 0 by the
model's error rate; the papers' own runs differ on this, which each chapter states. Targeted
attacks use each image's other classes in increasing order (C&W's protocol: 9 targets on 10
classes), image-major, so per-image statistics reshape to (images, targets).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from advlab import data


class TooFewImages(ValueError):
    """Fewer test images qualify than the chapter asked for."""


@dataclass(frozen=True)
class AttackSet:
    """The attacked images: a ``Dataset`` slice plus the test-set indices and the rule that chose them."""

    dataset: data.Dataset
    indices: list[int]
    rule: str

    @property
    def images(self) -> torch.Tensor:
        return self.dataset.images

    @property
    def labels(self) -> torch.Tensor:
        return self.dataset.labels

    def __len__(self) -> int:
        return len(self.indices)

    def first(self, n: int) -> "AttackSet":
        """The first ``n`` of these images (a smaller experiment on the same images)."""
        if n > len(self):
            raise TooFewImages(f"asked for {n} images, the attack set has {len(self)}")
        return AttackSet(replace(self.dataset, images=self.images[:n], labels=self.labels[:n]), self.indices[:n],
                         self.rule)

    def describe(self) -> str:
        index = self.indices
        contiguous = index == list(range(index[0], index[-1] + 1))
        shown = f"{index[0]}–{index[-1]}" if contiguous else ", ".join(map(str, index[:8])) + (", …" if len(index) > 8 else "")
        return f"{len(index)} images, {self.rule} (test indices {shown}); source: {self.dataset.source}"


@torch.no_grad()
def _correct(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 500) -> torch.Tensor:
    device = next(model.parameters()).device
    return torch.cat([model(images[i:i + batch].to(device)).argmax(1).cpu() == labels[i:i + batch]
                      for i in range(0, len(images), batch)])


def attack_set(dataset: str, n: int, correct_for: list[nn.Module] = ()) -> AttackSet:
    """The first ``n`` test images of ``dataset`` that every model in ``correct_for`` classifies
    correctly; :class:`TooFewImages` if the test set has fewer such images."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    scanned = min(data.TEST_SIZE, n if not correct_for else max(2 * n, 100))
    while True:
        pool = data.first_test_images(dataset, scanned)
        keep = torch.ones(len(pool), dtype=torch.bool)
        for model in correct_for:
            keep &= _correct(model, pool.images, pool.labels)
        index = keep.nonzero().squeeze(1)
        if len(index) >= n or scanned == data.TEST_SIZE:
            break
        scanned = min(data.TEST_SIZE, 2 * scanned)
    if len(index) < n:
        raise TooFewImages(f"only {len(index)} of the {data.TEST_SIZE} {dataset} test images are classified "
                           f"correctly by all {len(correct_for)} models; asked for {n}")
    index = index[:n]
    rule = (f"the first test images {'every listed model classifies' if len(correct_for) > 1 else 'the model classifies'}"
            " correctly" if correct_for else "the first test images")
    last = int(index[-1]) + 1
    source = data.first_test_images(dataset, last).source  # the source of the images actually used
    chosen = replace(pool, images=pool.images[index], labels=pool.labels[index], source=source)
    return AttackSet(chosen, index.tolist(), rule)


def per_class(dataset: str, rounds: int, correct_for: list[nn.Module] = (), classes: int = 10) -> AttackSet:
    """The first ``rounds`` test images of every class that the models in ``correct_for`` classify
    correctly, ordered round by round (class 0, 1, …, 9, then again): row i of the first round is of
    class i, as in EAD's 10 × 10 example grids (Figs. 6–7), and every prefix ``first(n)`` spreads over
    the classes. :class:`TooFewImages` if a class has fewer such images."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    pool = attack_set(dataset, min(data.TEST_SIZE, max(200, 40 * rounds * classes)), correct_for)
    order = []
    for k in range(rounds):
        for c in range(classes):
            hits = (pool.labels == c).nonzero().squeeze(1)
            if len(hits) <= k:
                raise TooFewImages(f"class {c} of {dataset} has only {len(hits)} usable images among the first "
                                   f"{pool.indices[-1] + 1} test images; asked for {rounds}")
            order.append(int(hits[k]))
    index = torch.tensor(order)
    chosen = replace(pool.dataset, images=pool.images[index], labels=pool.labels[index])
    return AttackSet(chosen, [pool.indices[i] for i in order], f"per class, {pool.rule}")


@dataclass(frozen=True)
class Targeted:
    """Each image repeated once per target: ``inputs``/``targets`` (image-major), ``images`` × ``per_image``."""

    inputs: torch.Tensor
    targets: torch.Tensor
    images: int
    per_image: int

    def per_image_view(self, values: torch.Tensor) -> torch.Tensor:
        """Per-attack values reshaped to (images, targets)."""
        return values.reshape(self.images, self.per_image)


def other_classes(labels: torch.Tensor, classes: int = 10, count: int | None = None) -> torch.Tensor:
    """(n, count) targets: each label's other classes in increasing order (the first ``count``)."""
    count = classes - 1 if count is None else count
    if not 1 <= count <= classes - 1:
        raise ValueError(f"count must be in 1..{classes - 1}, got {count}")
    grid = torch.arange(classes).expand(len(labels), classes)
    others = grid[grid != labels[:, None]].reshape(len(labels), classes - 1)
    return others[:, :count]


def targeted(attacked: AttackSet, classes: int = 10, count: int | None = None) -> Targeted:
    """The targeted experiment on ``attacked``: every image towards its other classes (C&W's protocol)."""
    targets = other_classes(attacked.labels, classes, count)
    per_image = targets.shape[1]
    return Targeted(attacked.images.repeat_interleave(per_image, 0), targets.reshape(-1), len(attacked), per_image)
