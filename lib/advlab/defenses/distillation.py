"""Defensive distillation (Papernot et al. 2016), as attacked in the EAD paper ("Breaking Defensive
Distillation"; chapter ead).

A teacher is trained on hard labels with its logits divided by T; its softmax at temperature T on
the training set gives soft labels; a student of the same architecture and initialisation is
trained on them at the same T, and deployed at T = 1 (raw logits). Training at a high T makes the
deployed logits about T times larger, which saturates the softmax so its gradients vanish — the
effect that defeats softmax-based attacks and that C&W and EAD sidestep by working on logits.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn

from advlab.training import Recipe, fit


@torch.no_grad()
def soft_labels(teacher: nn.Module, images: torch.Tensor, temperature: float, batch_size: int = 1000) -> torch.Tensor:
    """softmax(teacher(x) / T) for every image, computed in eval mode."""
    teacher.eval()
    device = next(teacher.parameters()).device
    return torch.cat([torch.softmax(teacher(images[i:i + batch_size].to(device)) / temperature, 1).cpu()
                      for i in range(0, len(images), batch_size)])


def distill(model: nn.Module, train_set, test_set, recipe: Recipe, path: Path, *, progress: bool = True,
            device: str | torch.device = "cpu", description: str = "") -> dict:
    """Train a teacher at ``recipe.temperature``, then ``model`` (the student, same initialisation)
    on the teacher's soft labels at the same temperature; save the student at ``path``.

    Returns the student's manifest fields plus the teacher's test accuracy; training seconds count both.
    """
    teacher = copy.deepcopy(model)
    teacher_path = Path(path).with_suffix(".teacher.pt")
    teacher_fields = fit(teacher, train_set, test_set, recipe, teacher_path, progress=progress, device=device,
                         description=f"{description} teacher")
    targets = soft_labels(teacher, train_set.images, recipe.temperature)
    student_fields = fit(model, train_set, test_set, recipe, path, targets=targets, progress=progress,
                         device=device, description=f"{description} student")
    teacher_path.unlink()
    return {**student_fields, "teacher_test_accuracy": teacher_fields["test_accuracy"],
            "training_seconds": round(teacher_fields["training_seconds"] + student_fields["training_seconds"], 1)}
