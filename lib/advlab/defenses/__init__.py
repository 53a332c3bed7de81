"""Defenses: adversarial training (recipes in ``advlab.zoo``, loop in ``advlab.zoo.training``),
defensive distillation, and perturbation generator networks (PGN)."""
