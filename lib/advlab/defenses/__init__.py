"""Defenses: adversarial training (recipes in ``advlab.zoo``, loop in ``advlab.training``),
defensive distillation, and perturbation generator networks (PGN)."""
