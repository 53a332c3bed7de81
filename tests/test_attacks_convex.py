"""The convex framework (Balda et al. 2018): closed forms, FGSM and DeepFool as special cases, Algorithms 1/1-n/2."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from advlab.attacks import (alg1, alg1_n, alg2, deepfool, fgm, gnii_perturbation, linearized_boundary_step, pgd,
                            random_sign)
from advlab.linear_models import LinearModel, exact_distances, make_inputs, make_model

INF = math.inf

DUAL = {1: INF, 2: 2, INF: 1}


@pytest.mark.parametrize("p", [1, 2, INF])
def test_gnii_closed_form_is_optimal(p):
    """Proposition 2: ‖η‖_p = ε and ηᵀ∇L = −ε‖∇L‖_q, and no feasible direction does better."""
    generator = torch.Generator().manual_seed(0)
    grad = torch.randn(6, 5, generator=generator, dtype=torch.float64)
    eta = gnii_perturbation(grad, 0.3, p)
    torch.testing.assert_close(eta.norm(p=p, dim=1), torch.full((6,), 0.3, dtype=torch.float64))
    value = (grad * eta).sum(1)
    torch.testing.assert_close(value, -0.3 * grad.norm(p=DUAL[p], dim=1))
    candidates = torch.randn(6, 20000, 5, generator=generator, dtype=torch.float64)
    candidates = 0.3 * candidates / candidates.norm(p=p, dim=2, keepdim=True)
    assert ((grad[:, None] * candidates).sum(2) >= value[:, None] - 1e-12).all()
    if p == 2:   # Eq. 6 with q = 2
        torch.testing.assert_close(eta, -0.3 * grad / grad.norm(dim=1, keepdim=True))


def small_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 4)).eval()


@pytest.mark.parametrize("norm", [2, INF])
def test_fgm_is_gnii_with_negative_cross_entropy(norm):
    """FGSM (p = ∞) and FGM-L2 (p = 2) are (GNII) with L = −CE, on a nonlinear model."""
    model = small_mlp()
    inputs = torch.rand(5, 3, 4, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 1, 2, 3, 0])
    x = inputs.clone().requires_grad_(True)
    ce_grad, = torch.autograd.grad(F.cross_entropy(model(x), labels, reduction="sum"), x)
    expected = (inputs + gnii_perturbation(-ce_grad, 0.05, norm)).clamp(0, 1)
    torch.testing.assert_close(fgm(model, inputs, labels, eps=0.05, norm=norm), expected)
    if norm == INF:
        torch.testing.assert_close(expected, (inputs + 0.05 * ce_grad.sign()).clamp(0, 1))


def interior_problem():
    """A linear model and inputs around 0.5 whose minimal perturbations stay well inside the box."""
    model = make_model((12,), 5, scale=10.0, seed=21)
    generator = torch.Generator().manual_seed(22)
    inputs = 0.45 + 0.1 * torch.rand(16, 12, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        labels = model(inputs).argmax(1)
    return model, inputs, labels


@pytest.mark.parametrize("norm", [2, INF])
def test_one_deepfool_step_solves_eq8(norm):
    """One DeepFool iteration is Eq. 8 with L = f_k − f_l̂ (l̂ = argmin L_l/‖∇L_l‖_q), computed here from W."""
    model, inputs, labels = interior_problem()
    step = deepfool(model, inputs, labels, norm=norm, steps=1, overshoot=0.0, candidates=None) - inputs
    weight, bias = model.weight, model.bias
    for i, (x, k) in enumerate(zip(inputs, labels.tolist())):
        others = [l for l in range(5) if l != k]
        margins = (weight[k] - weight[others]) @ x + bias[k] - bias[others]
        grads = weight[k] - weight[others]
        best = int((margins / grads.norm(p=DUAL[norm], dim=1)).argmin())
        value, grad = margins[best] + 1e-4, grads[best]
        if norm == 2:
            eta = -value * grad / grad.norm() ** 2
        else:
            eta = -value / grad.norm(p=1) * grad.sign()
        torch.testing.assert_close(step[i], eta, rtol=1e-6, atol=1e-9)
        assert abs(margins[best] + eta @ grad + 1e-4) < 1e-9              # 1e-4 past the linearised boundary
        torch.testing.assert_close(eta.norm(p=norm), value / grad.norm(p=DUAL[norm]))   # Proposition 1's bound
    # no box clipping happened, so on a linear model the step is the exact minimal perturbation (+1e-4)
    exact = exact_distances(model, inputs, labels, norm)
    assert ((step.norm(p=norm, dim=1) - exact).abs() < 1e-3 * exact + 1e-6).all()
    assert torch.equal(linearized_boundary_step(torch.tensor([-1.0]), torch.ones(1, 3), norm), torch.zeros(1, 3))


def test_alg1_is_exact_for_linear_models():
    """Algorithm 1 solves (GNII) with the box exactly: on a linear model it fools a sample iff its exact
    L∞ distance is below ε."""
    model = make_model((4, 6), 10, scale=10.0, seed=31)
    inputs, labels = make_inputs(model, (4, 6), 16, seed=32)
    distances = exact_distances(model, inputs, labels, INF)
    for eps in distances.quantile(torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64)).tolist():
        eps += 1e-4  # avoid an exact tie with one sample's distance
        adv = alg1(model, inputs, labels, eps=eps)
        assert (adv - inputs).abs().max() <= eps + 1e-6
        with torch.no_grad():
            fooled = model(adv).argmax(1) != labels
        assert torch.equal(fooled, distances < eps)


def test_alg1_n_stays_in_the_ball():
    model = small_mlp()
    inputs = torch.rand(6, 3, 4, generator=torch.Generator().manual_seed(2))
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    assert torch.equal(alg1_n(model, inputs, labels, eps=0.1, steps=1), alg1(model, inputs, labels, eps=0.1))
    adv = alg1_n(model, inputs, labels, eps=0.1, steps=5)
    assert (adv - inputs).abs().max() <= 0.1 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    assert not torch.equal(adv, alg1(model, inputs, labels, eps=0.1))


def test_alg2_is_gnii_with_the_class_score():
    """Algorithm 2: L ≈ f_k, p = ∞ — a sign step against the label's logit gradient."""
    model = small_mlp()
    inputs = torch.rand(5, 3, 4, generator=torch.Generator().manual_seed(3))
    labels = torch.tensor([3, 2, 1, 0, 3])
    x = inputs.clone().requires_grad_(True)
    grad, = torch.autograd.grad(model(x).gather(1, labels[:, None]).sum(), x)
    torch.testing.assert_close(alg2(model, inputs, labels, eps=0.07), (inputs - 0.07 * grad.sign()).clamp(0, 1))


def test_without_the_box_the_steps_are_the_closed_forms():
    """clip=False (the convex paper's code): Alg1, Alg2, FGSM and random steps leave [0, 1] by exactly ε; with the
    box the same attacks stay inside; on a linear model unclipped Alg1 fools iff the unboxed L∞ distance is < ε."""
    model = small_mlp()
    inputs = torch.rand(6, 3, 4, generator=torch.Generator().manual_seed(4))
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    for attack in (alg1, alg2, partial(alg1_n, steps=3), partial(fgm, norm=INF), partial(pgd, norm=INF, steps=3),
                   partial(random_sign, generator=torch.Generator().manual_seed(0))):
        assert (attack(model, inputs, labels, eps=0.3, clip=False) - inputs).abs().max() <= 0.3 + 1e-6
        boxed = attack(model, inputs, labels, eps=0.3)
        assert boxed.min() >= 0 and boxed.max() <= 1
    boxed, free = deepfool(model, inputs, labels, norm=INF), deepfool(model, inputs, labels, norm=INF, clip=False)
    assert boxed.min() >= 0 and boxed.max() <= 1 and not torch.equal(boxed, free)
    x = inputs.clone().requires_grad_(True)
    grad, = torch.autograd.grad(model(x).gather(1, labels[:, None]).sum(), x)
    free = alg2(model, inputs, labels, eps=0.3, clip=False)
    torch.testing.assert_close(free, inputs - 0.3 * grad.sign())
    assert free.min() < 0 or free.max() > 1
    noise = random_sign(model, inputs, labels, eps=0.3, clip=False, generator=torch.Generator().manual_seed(0)) - inputs
    torch.testing.assert_close(noise.abs(), torch.full_like(noise, 0.3))
    assert 0.3 < (noise > 0).float().mean() < 0.7
    linear = make_model((12,), 5, scale=10.0, seed=21)
    points = torch.rand(16, 12, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    with torch.no_grad():
        classes = linear(points).argmax(1)
    w, b = linear.weight, linear.bias
    margins = (points @ w.T + b).gather(1, classes[:, None]) - (points @ w.T + b)
    unboxed = (margins / (w[classes][:, None] - w[None]).abs().sum(2).clamp_min(1e-30)).scatter(1, classes[:, None], INF).amin(1)
    eps = float(unboxed.median()) + 1e-4
    with torch.no_grad():
        fooled = linear(alg1(linear, points, classes, eps=eps, clip=False)).argmax(1) != classes
    assert torch.equal(fooled, unboxed < eps)
    with pytest.raises(ValueError, match="untargeted"):
        random_sign(model, inputs, labels, eps=0.1, targeted=True)


def test_linear_model_helper_is_a_linear_map():
    """Sanity of the test model used above: logits are W·x + b, whatever the batch size."""
    model = LinearModel(torch.eye(3), torch.zeros(3)).eval()
    x = torch.rand(4, 3)
    torch.testing.assert_close(model(x), x.double())
    assert math.isclose(model(x[:1])[0, 0].item(), x[0, 0].item(), rel_tol=1e-7)
