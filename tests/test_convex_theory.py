"""The convex chapter's theory, computed (advlab.convex_theory): closed forms against a generic solver, Theorem 1
against autograd, Section IV's regression attacks against enumeration, Proposition 1 on linear classifiers."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from advlab.attacks import gnii_perturbation, linearized_boundary_step
from advlab.attacks._common import class_gradients, dual_norm, lp_norms
from advlab.convex_theory import (gnii_by_solver, layer_jacobian, linear_minimal_linf, min_perturbation_by_solver,
                                  regression_by_enumeration, regression_linf_bruteforce, regression_linf_sdp,
                                  regression_perturbation, runner_up_bound)
from advlab.zoo.architectures import fcnn, lenet5, normalized
from advlab.linear_models import exact_distances, make_model

INF = math.inf

NORMS = [1, 2, INF]


def random_problems(seed: int, count: int = 16, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients with scales over two decades and values L(x) of both signs, 0.1 ≤ |L| ≤ 2 (the solver's
    tolerances are absolute, about 1e-9: a relative gap means little on optima much closer to 0)."""
    generator = torch.Generator().manual_seed(seed)
    scale = 10 ** (2 * torch.rand(count, 1, generator=generator, dtype=torch.float64) - 1)
    grad = scale * torch.randn(count, n, generator=generator, dtype=torch.float64)
    magnitude = 0.1 + 1.9 * torch.rand(count, generator=generator, dtype=torch.float64)
    return grad, torch.where(torch.arange(count) % 4 == 0, -magnitude, magnitude)


@pytest.mark.parametrize("p", NORMS)
def test_gnii_closed_form_equals_solver(p):
    """Proposition 2: the closed form attains CLARABEL's optimum L − ε‖∇L‖_q of (GNII); the solver's η is feasible."""
    grad, value = random_problems(seed=1)
    eps = torch.linspace(0.05, 1.0, grad.shape[0], dtype=torch.float64)
    optimum, eta = gnii_by_solver(grad, value, eps, p)
    closed = value + (grad * gnii_perturbation(grad, eps, p)).sum(1)
    scale = value.abs() + eps * lp_norms(grad, dual_norm(p))
    gap = ((optimum - closed).abs() / scale).max().item()
    assert gap < 1e-6, f"largest relative gap closed form vs solver for p={p}: {gap:.3g}"
    torch.testing.assert_close(closed, value - eps * lp_norms(grad, dual_norm(p)))
    assert (lp_norms(eta, p) <= eps * (1 + 1e-6)).all()
    torch.testing.assert_close(value + (grad * eta).sum(1), optimum, rtol=0, atol=1e-6 * scale.max().item())


@pytest.mark.parametrize("p", NORMS)
def test_proposition_1_is_tight_for_the_linearisation(p):
    """Eq. 8's minimum is L/‖∇L‖_q where L > 0 (Proposition 1's bound is attained) and 0 where L ≤ 0."""
    grad, value = random_problems(seed=2)
    norms, eta = min_perturbation_by_solver(grad, value, p)
    bound = value.clamp_min(0) / lp_norms(grad, dual_norm(p))
    positive = value > 0
    assert 0 < positive.sum() < len(value)
    gap = ((norms - bound).abs() / bound)[positive].max().item()
    assert gap < 1e-6, f"largest relative gap Proposition 1 vs solver for p={p}: {gap:.3g}"
    assert norms[~positive].abs().max() < 1e-7
    assert (value + (grad * eta).sum(1) <= 1e-7 * grad.abs().amax(1)).all()
    torch.testing.assert_close(lp_norms(linearized_boundary_step(value, grad, p), p), bound, rtol=1e-12, atol=0)


def autograd_jacobian(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(N, outputs, inputs) by one backward pass per output."""
    x = x.clone().requires_grad_(True)
    logits = model(x)
    classes = torch.arange(logits.shape[1]).expand(x.shape[0], -1)
    return class_gradients(logits, x, classes).flatten(2)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_theorem_1_on_the_zoo_fcnn(dtype):
    """Theorem 1: D⁽ᴸ⁾W⁽ᴸ⁾⋯D⁽¹⁾W⁽¹⁾·Diag(1/std) is the Jacobian of normalized(fcnn(), "mnist") (random init)."""
    torch.manual_seed(0)
    model = normalized(fcnn(), "mnist").to(dtype).eval()
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1), dtype=dtype)
    jacobian = layer_jacobian(model, x)
    assert jacobian.shape == (4, 10, 784) and jacobian.dtype == dtype
    assert not torch.allclose(jacobian[0], jacobian[1], rtol=0.1)   # D⁽ˡ⁾ depends on the input
    tolerance = {torch.float64: 1e-12, torch.float32: 1e-5}[dtype]
    torch.testing.assert_close(jacobian, autograd_jacobian(model, x), rtol=tolerance, atol=tolerance * 1e-2)


def test_theorem_1_with_every_activation_and_nested_layers():
    """Per-channel Normalize, nested Sequentials, LeakyReLU / Tanh / Sigmoid / ReLU, against autograd."""
    torch.manual_seed(3)
    model = nn.Sequential(
        normalized(nn.Sequential(nn.Flatten(), nn.LeakyReLU(0.1), nn.Linear(48, 8), nn.Tanh()), "cifar10"),
        nn.Sequential(nn.Linear(8, 8), nn.Sigmoid()), nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3),
    ).double().eval()
    x = torch.rand(5, 3, 4, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    torch.testing.assert_close(layer_jacobian(model, x), autograd_jacobian(model, x), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("activation", [nn.ReLU(), nn.LeakyReLU(0.2)])
def test_theorem_1_at_the_kink_follows_pytorch(activation):
    """Pixels equal to the mean give pre-activation exactly 0: ReLU′(0) = 0 and LeakyReLU′(0) = slope, as autograd."""
    torch.manual_seed(5)
    model = normalized(nn.Sequential(activation, nn.Flatten(), nn.Linear(16, 3)), "mnist").double().eval()
    x = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    x[:, :, :2] = model[0].mean
    assert (model[0](x)[:, :, :2] == 0).all()
    torch.testing.assert_close(layer_jacobian(model, x), autograd_jacobian(model, x), rtol=1e-12, atol=0)


def test_layer_jacobian_refuses_other_layers():
    x = torch.rand(2, 1, 28, 28)
    with pytest.raises(ValueError, match="Conv2d"):
        layer_jacobian(normalized(lenet5(), "mnist").eval(), x)
    with pytest.raises(ValueError, match="MaxPool2d"):
        layer_jacobian(nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(196, 3)), x)
    with pytest.raises(ValueError, match="add an nn.Flatten"):
        layer_jacobian(nn.Sequential(nn.Linear(28, 3)), x)
    with pytest.raises(ValueError, match="x must have shape"):
        layer_jacobian(fcnn(), torch.rand(784))


def random_jacobians(seed: int, count: int = 6, m: int = 3, n: int = 7) -> torch.Tensor:
    return torch.randn(count, m, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_regression_closed_forms_against_enumeration():
    """Section IV: ε·e_k* is the best vertex of the ℓ1 ball; ε·v_max attains ε‖J‖₂, no random direction beats it."""
    jacobian = random_jacobians(seed=5)
    eps = torch.linspace(0.1, 1.0, jacobian.shape[0], dtype=torch.float64)
    value = lambda eta: torch.linalg.vector_norm(jacobian @ eta[:, :, None], dim=(1, 2))  # noqa: E731

    eta1 = regression_perturbation(jacobian, eps, 1)
    assert ((eta1 != 0).sum(1) == 1).all()
    torch.testing.assert_close(lp_norms(eta1, 1), eps)
    _, best1 = regression_by_enumeration(jacobian, eps, 1)
    torch.testing.assert_close(value(eta1), best1, rtol=1e-12, atol=0)

    eta2 = regression_perturbation(jacobian, eps, 2)
    torch.testing.assert_close(lp_norms(eta2, 2), eps)
    torch.testing.assert_close(value(eta2), eps * torch.linalg.matrix_norm(jacobian, 2), rtol=1e-12, atol=0)
    _, sampled = regression_by_enumeration(jacobian, eps, 2)
    assert (sampled <= value(eta2) * (1 + 1e-12)).all()
    assert (sampled >= 0.9 * value(eta2)).all()   # 10⁴ directions in 7 dimensions come close

    with pytest.raises(ValueError, match="regression_linf_bruteforce"):
        regression_perturbation(jacobian, eps, INF)


def test_linf_bruteforce_between_sdp_rounding_and_sdp_bound():
    """rounded ≤ exact optimum ≤ certified SDP bound, the rounding within Nesterov's 2/π of the relaxation."""
    jacobian = random_jacobians(seed=6, count=5, m=3, n=8)
    eta, exact = regression_linf_bruteforce(jacobian, 0.5)
    assert (eta.abs() == 0.5).all()
    torch.testing.assert_close(torch.linalg.vector_norm(jacobian @ eta[:, :, None], dim=(1, 2)), exact)
    _, chunked = regression_linf_bruteforce(jacobian, 0.5, chunk=7)   # chunk boundaries change nothing
    torch.testing.assert_close(chunked, exact, rtol=1e-14, atol=0)
    torch.testing.assert_close(regression_by_enumeration(jacobian, 0.5, INF)[1], exact, rtol=1e-14, atol=0)

    bounds = regression_linf_sdp(jacobian, 0.5)
    assert (bounds.rounded <= exact * (1 + 1e-12)).all()
    assert (exact <= bounds.upper * (1 + 1e-12)).all()
    torch.testing.assert_close(bounds.relaxation, bounds.upper, rtol=1e-6, atol=0)
    assert (bounds.rounded >= math.sqrt(2 / math.pi) * bounds.upper).all()
    assert (bounds.eta.abs() == 0.5).all()
    torch.testing.assert_close(torch.linalg.vector_norm(jacobian @ bounds.eta[:, :, None], dim=(1, 2)), bounds.rounded)

    with pytest.raises(ValueError, match="n <= 20"):
        regression_linf_bruteforce(torch.zeros(1, 1, 21, dtype=torch.float64), 0.1)


def test_runner_up_bound_can_exceed_the_true_minimum():
    """Class 1 is the runner-up but its weights barely differ from class 0's; class 2 is far in value, close in ℓ∞."""
    weight = torch.tensor([[0.0, 0.0], [0.005, -0.005], [5.0, -5.0]], dtype=torch.float64)
    bias = torch.tensor([1.0, 0.9, 0.0], dtype=torch.float64)
    x, label = torch.zeros(1, 2, dtype=torch.float64), torch.tensor([0])
    minimal, runner_up = linear_minimal_linf(weight, bias, x, label), runner_up_bound(weight, bias, x, label)
    torch.testing.assert_close(minimal, torch.tensor([0.1], dtype=torch.float64))
    torch.testing.assert_close(runner_up, torch.tensor([10.0], dtype=torch.float64))
    logits = lambda inputs: inputs @ weight.T + bias  # noqa: E731
    for size in (minimal * (1 + 1e-9), runner_up / 2):   # both fool the classifier: the "bound" is no bound
        assert logits(x + size * torch.tensor([1.0, -1.0], dtype=torch.float64)).argmax(1).item() != 0


def test_linear_minimal_linf_is_exact():
    """Away from the box, min_l (f_k − f_l)/‖w_k − w_l‖₁ is the exact ℓ∞ distance of linear_models; runner-up ≥ it."""
    model = make_model((12,), 5, scale=10.0, seed=21)
    inputs = 0.45 + 0.1 * torch.rand(16, 12, generator=torch.Generator().manual_seed(22), dtype=torch.float64)
    labels = model(inputs).argmax(1)
    minimal = linear_minimal_linf(model.weight, model.bias, inputs, labels)
    assert minimal.max() < 0.4   # the box [0, 1] does not bind
    torch.testing.assert_close(minimal, exact_distances(model, inputs, labels, INF))
    assert (runner_up_bound(model.weight, model.bias, inputs, labels) >= minimal).all()


def test_bad_inputs_raise_clear_errors():
    grad, value = random_problems(seed=7, count=3, n=4)
    with pytest.raises(ValueError, match="norm must be one of"):
        gnii_by_solver(grad, value, 0.1, 3)
    with pytest.raises(ValueError, match="norm must be one of"):
        regression_perturbation(random_jacobians(seed=8), 0.1, 0)
    with pytest.raises(ValueError, match=r"grad must have shape \(N, n\)"):
        min_perturbation_by_solver(grad[0], value, 2)
    with pytest.raises(ValueError, match=r"value must have shape \(3,\)"):
        gnii_by_solver(grad, value[:2], 0.1, 2)
    with pytest.raises(ValueError, match="floating-point"):
        gnii_by_solver(grad.long(), value, 0.1, 2)
    with pytest.raises(ValueError, match="eps must be >= 0"):
        gnii_by_solver(grad, value, -0.1, 2)
    with pytest.raises(ValueError, match=r"jacobian must have shape \(N, m, n\)"):
        regression_linf_sdp(torch.rand(3, 4, dtype=torch.float64), 0.1)
    with pytest.raises(ValueError, match="NaN"):
        regression_perturbation(torch.full((1, 2, 2), math.nan), 0.1, 2)
    weight, bias = torch.eye(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)
    x = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match="prediction"):
        linear_minimal_linf(weight, bias, x, torch.tensor([1]))
    with pytest.raises(ValueError, match="same K"):
        runner_up_bound(weight, bias[:2], x, torch.tensor([0]))
    with pytest.raises(ValueError, match="features per sample"):
        linear_minimal_linf(weight, bias, x[:, :2], torch.tensor([0]))
    with pytest.raises(ValueError, match="integer tensor"):
        linear_minimal_linf(weight, bias, x, torch.tensor([0.0]))
