"""MIM (``advlab.attacks.mim``) on linear models with exactly known minimal perturbations, and against a
one-sample reference written from CleverHans's documented algorithm (chapter pgn)."""

from __future__ import annotations

import math
from functools import lru_cache

import pytest
import torch
from torch.nn import functional as F

from advlab.attacks import mim, pgd
from advlab.linear_models import certified_targets, exact_distances, make_inputs, make_model

INF = math.inf


@lru_cache(maxsize=None)
def problem():
    """A linear model on 3×7×7 inputs and 12 correctly labelled inputs; cached, never modified."""
    model = make_model((3, 7, 7), 10, scale=10.0, seed=31)
    inputs, labels = make_inputs(model, (3, 7, 7), 12, seed=32)
    return model, inputs, labels


def fooled(model, adv, labels, targeted=False):
    with torch.no_grad():
        predicted = model(adv).argmax(1)
    return predicted == labels if targeted else predicted != labels


def reference_mim(model, x0, label, *, eps, norm, steps, step_size, decay):
    """CleverHans's MomentumIterativeMethod for one sample with scalar state: the gradient divided by its mean
    absolute value, accumulated with ``decay``; a step of ``step_size`` along m/‖m‖₂ or sign(m); the
    perturbation clipped to the ε-ball; the point clipped to [0, 1]."""
    x, momentum = x0.clone(), torch.zeros_like(x0)
    for _ in range(steps):
        x = x.detach().requires_grad_(True)
        grad, = torch.autograd.grad(F.cross_entropy(model(x[None]), torch.tensor([label])), x)
        momentum = decay * momentum + grad / grad.abs().mean()
        step = momentum.sign() if norm == INF else momentum / momentum.norm()
        delta = x.detach() + step_size * step - x0
        if norm == INF:
            delta = delta.clamp(-eps, eps)
        else:
            delta = delta * min(1.0, eps / delta.norm().item())
        x = (x0 + delta).clamp(0, 1)
    return x.detach()


@pytest.mark.parametrize("norm, eps, step_size", [(2, 0.2, 0.06), (INF, 0.1, 0.02)], ids=["l2", "linf"])
def test_mim_matches_a_reference_written_from_cleverhans(norm, eps, step_size):
    """Momentum on the L1- (CleverHans: mean-) normalised gradient, normalised step, projection, box; the
    iterates with momentum differ from those without (decay 0)."""
    model, inputs, labels = problem()
    x, y = inputs[:4].double(), labels[:4]
    run = {decay: mim(model, x, y, eps=eps, norm=norm, steps=20, step_size=step_size, decay=decay)
           for decay in (1.0, 0.5, 0.0)}
    for decay in (1.0, 0.5):
        expected = torch.stack([reference_mim(model, x0, int(label), eps=eps, norm=norm, steps=20,
                                              step_size=step_size, decay=decay) for x0, label in zip(x, y)])
        torch.testing.assert_close(run[decay], expected, rtol=0, atol=1e-9)
        assert not torch.equal(run[decay], run[0.0])


@pytest.mark.parametrize("norm", [2, INF], ids=["l2", "linf"])
def test_without_momentum_mim_is_pgd_without_random_start(norm):
    """decay = 0: g = ∇/‖∇‖₁, so g/‖g‖₂ = ∇/‖∇‖₂ and sign(g) = sign(∇): PGD's steps (here longer than ε)."""
    model, inputs, labels = problem()
    eps, step = (0.3, 0.4) if norm == 2 else (0.03, 0.04)
    adv = mim(model, inputs, labels, eps=eps, norm=norm, steps=10, step_size=step, decay=0.0)
    expected = pgd(model, inputs, labels, eps=eps, norm=norm, steps=10, step_size=step, random_init=False)
    torch.testing.assert_close(adv, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("norm", [2, INF], ids=["l2", "linf"])
def test_success_above_the_exact_distance_and_never_below(norm):
    """With ε = 1.2 × the exact minimal distance (in the box) every sample is fooled, with PGN's 100 steps of
    0.06 (L2) or steps of ε/10 (L∞); with ε = 0.95 × it none can be, and the output stays in the ball and the box."""
    model, inputs, labels = problem()
    exact = exact_distances(model, inputs, labels, norm).float()
    for factor, success in ((1.2, True), (0.95, False)):
        eps = factor * exact
        step = 0.06 if norm == 2 else eps / 10
        adv = mim(model, inputs, labels, eps=eps, norm=norm, step_size=step)
        distance = (adv - inputs).flatten(1).norm(p=norm, dim=1)
        assert (distance <= eps * (1 + 1e-5)).all() and adv.min() >= 0 and adv.max() <= 1
        assert (fooled(model, adv, labels) == success).all()


def test_targeted_reaches_the_target():
    """Descent on the cross-entropy at a certified target: every sample reaches it at 1.2 × the exact targeted
    L2 distance, none at 0.95 ×."""
    model, inputs, labels = problem()
    targets = certified_targets(model, inputs, labels, norms=(2,))
    exact = exact_distances(model, inputs, targets, 2, targeted=True).float()
    for factor, success in ((1.2, True), (0.95, False)):
        adv = mim(model, inputs, targets, eps=factor * exact, targeted=True)
        assert (fooled(model, adv, targets, targeted=True) == success).all()
    assert not fooled(model, mim(model, inputs, targets, eps=1.2 * exact), targets, targeted=True).all()


def test_per_sample_eps_and_step():
    """A tensor ε (and step) gives each sample the result it gets alone with its own float values."""
    model, inputs, labels = problem()
    eps = torch.linspace(0.05, 0.4, len(inputs))
    step = eps / 4
    adv = mim(model, inputs, labels, eps=eps, steps=15, step_size=step)
    alone = torch.cat([mim(model, inputs[i:i + 1], labels[i:i + 1], eps=eps[i].item(), steps=15,
                           step_size=step[i].item()) for i in range(len(inputs))])
    torch.testing.assert_close(adv, alone, rtol=0, atol=1e-6)
    assert ((adv - inputs).flatten(1).norm(dim=1) <= eps * (1 + 1e-5)).all()
    exact, success = exact_distances(model, inputs, labels, 2).float(), fooled(model, adv, labels)
    assert not success[exact > eps].any() and success[eps > 1.2 * exact].all() and success.any()


@pytest.mark.parametrize("kwargs, message", [
    (dict(eps=0.5, norm=1), "norm must be one of"),
    (dict(eps=0.5, decay=-0.1), "decay must be >= 0"),
    (dict(eps=0.5, decay=math.nan), "decay must be >= 0"),
    (dict(eps=-0.5), "eps must be >= 0"),
    (dict(eps=0.5, step_size=-0.06), "step_size must be >= 0"),
])
def test_bad_hyperparameters_raise(kwargs, message):
    model, inputs, labels = problem()
    with pytest.raises(ValueError, match=message):
        mim(model, inputs, labels, **kwargs)
