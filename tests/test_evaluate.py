"""run_attack's measurements, the papers' summaries, accuracies and the PGN robustness-curve (advlab.evaluate)."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch

from advlab import data, zoo
from advlab.attacks import AttackInputError, carlini_wagner_l2, ddn, deepfool, ead
from advlab.evaluate import (AttackResult, accuracy, best_distances, fooling_threshold, linearized_bounds, optimality,
                             pgd_accuracy, relative_perturbations, rho_cw, robust_accuracy,
                             robustness_curve, run_attack, summarize)
from advlab.linear_models import exact_distances, make_inputs, make_model


@pytest.fixture(scope="module")
def problem():
    """8 correctly classified inputs of a linear model, then 2 of them relabelled so they start misclassified."""
    model = make_model((4, 6), 10, scale=10.0, seed=41)
    inputs, labels = make_inputs(model, (4, 6), 8, seed=42)
    labels = labels.clone()
    labels[[2, 5]] = (labels[[2, 5]] + 1) % 10
    return model, inputs, labels


@pytest.mark.parametrize("attack, forwards, backwards", [
    (partial(ddn, steps=7), 7, 7),
    (partial(carlini_wagner_l2, search_steps=2, steps=5, abort_early=False), 10, 10),
    (partial(ead, search_steps=2, steps=5), 20, 10),         # + a forward at every x_k
    (partial(deepfool, steps=1, candidates=3), 1, 3),                       # 3 class gradients
], ids=["ddn", "cw", "ead", "deepfool"])
def test_counts_skips_and_success(problem, attack, forwards, backwards):
    model, inputs, labels = problem
    result = run_attack(model, inputs, labels, attack, batch_size=4)
    already = torch.zeros(8, dtype=torch.bool)
    already[[2, 5]] = True
    assert torch.equal(result.already_adversarial, already)
    assert (result.forwards[already] == 0).all() and (result.backwards[already] == 0).all()
    assert (result.forwards[~already] == forwards).all() and (result.backwards[~already] == backwards).all()
    assert torch.equal(result.adv_inputs[already], inputs[already]) and (result.distances["l2"][already] == 0).all()
    with torch.no_grad():
        assert torch.equal(result.success, model(result.adv_inputs).argmax(1) != labels)
    assert result.seconds > 0 and not model._forward_hooks


def test_success_is_recomputed_and_distances_measured(problem):
    model, inputs, labels = problem
    delta = torch.zeros_like(inputs)
    delta[:, 0, :3] = torch.tensor([0.0, 0.2, -0.1]) * (inputs[:, 0, :3] > 0.3) * (inputs[:, 0, :3] < 0.7)

    def claims_success(model, x, y, *, targeted):   # returns a barely moved input: the model decides
        return x + delta[: len(x)]

    result = run_attack(model, inputs, labels, claims_success)
    attacked = ~result.already_adversarial
    moved = result.adv_inputs - inputs
    assert torch.equal(result.success[attacked], torch.zeros(6, dtype=torch.bool))
    for name, p in {"l0": 0, "l1": 1, "l2": 2, "linf": math.inf}.items():
        expected = (moved.flatten(1) != 0).sum(1).double() if p == 0 else moved.flatten(1).norm(p=p, dim=1)
        torch.testing.assert_close(result.distances[name].double(), expected.double())
    assert torch.isinf(result.adversarial_distance("l2")[attacked]).all()


def test_batching_gives_the_same_results(problem):
    model, inputs, labels = problem
    whole = run_attack(model, inputs, labels, partial(ddn, steps=10))
    chunks = run_attack(model, inputs, labels, partial(ddn, steps=10), batch_size=3)
    torch.testing.assert_close(whole.adv_inputs, chunks.adv_inputs, rtol=0, atol=1e-6)
    assert torch.equal(whole.forwards, chunks.forwards)


def test_invalid_attack_outputs_and_inputs_are_refused(problem):
    model, inputs, labels = problem
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        run_attack(model, inputs, labels, lambda m, x, y, targeted: x + 2)
    with pytest.raises(ValueError, match="NaN or Inf"):
        run_attack(model, inputs, labels, lambda m, x, y, targeted: x + math.inf, box=False)
    unboxed = run_attack(model, inputs, labels, lambda m, x, y, targeted: x + 2, box=False)  # the convex paper's unclipped attacks
    assert (unboxed.distances["linf"][~unboxed.already_adversarial] - 2).abs().max() < 1e-6
    with pytest.raises(ValueError, match="shape"):
        run_attack(model, inputs, labels, lambda m, x, y, targeted: x[:, :2])
    with pytest.raises(AttackInputError, match="match"):
        run_attack(model, inputs, labels[:3], partial(ddn, steps=1))
    with pytest.raises(RuntimeError, match="boom"):
        run_attack(model, inputs, labels, lambda m, x, y, targeted: (m(x), (_ for _ in ()).throw(RuntimeError("boom"))))
    assert not model._forward_hooks


def synthetic(l2: list[float], success: list[bool], targeted: bool = False) -> AttackResult:
    n = len(l2)
    distances = {name: torch.tensor(l2, dtype=torch.float64) for name in ("l0", "l1", "l2", "linf")}
    return AttackResult(adv_inputs=torch.zeros(n, 1), success=torch.tensor(success),
                        already_adversarial=torch.tensor([d == 0 for d in l2]), distances=distances,
                        forwards=torch.ones(n, dtype=torch.float64), backwards=torch.ones(n, dtype=torch.float64),
                        seconds=1.0, targeted=targeted)


def test_summary_counts_failures_as_infinite_in_the_median():
    result = synthetic([0.0, 1.0, 2.0, 3.0, 4.0], [True, True, False, True, False])
    summary = summarize(result)
    assert summary["success_rate"] == 0.6
    assert summary["mean_l2"] == pytest.approx(4 / 3)          # over successes only
    assert summary["median_l2"] == 3.0                         # sorted 0, 1, 3, inf, inf
    assert math.isinf(summarize(synthetic([1.0, 2.0, 3.0], [True, False, False]))["median_l2"])


def test_robust_accuracy_curve():
    result = synthetic([0.0, 1.0, 2.0, 3.0], [True, True, False, True])
    curve = robust_accuracy(result, [0.0, 0.5, 1.0, 2.5, 10.0])
    torch.testing.assert_close(curve, torch.tensor([0.75, 0.75, 0.5, 0.5, 0.25], dtype=torch.float64))
    with pytest.raises(ValueError, match="untargeted"):
        robust_accuracy(synthetic([1.0], [True], targeted=True), [1.0])


def test_rho_cw_with_and_without_the_misclassified_points():
    """Eq. 6: the mean L2 over the successes D; clean-misclassified points (already adversarial, distance 0)
    are in D by default and left out with include_misclassified=False; an empty D gives NaN."""
    result = synthetic([0.0, 0.0, 1.0, 2.0, 4.0, 7.0], [True, True, True, False, True, False])
    assert rho_cw(result) == pytest.approx(5 / 4)                              # 0, 0, 1, 4
    assert rho_cw(result, include_misclassified=False) == pytest.approx(5 / 2)  # 1, 4
    assert isinstance(rho_cw(result), float)
    only_misclassified = synthetic([0.0, 3.0], [True, False])
    assert rho_cw(only_misclassified) == 0.0 and math.isnan(rho_cw(only_misclassified, include_misclassified=False))
    assert math.isnan(rho_cw(synthetic([1.0, 2.0], [False, False])))


def test_optimality_against_the_best_of_several_attacks():
    first = synthetic([0.0, 1.0, 2.5, 3.0, 5.0], [True, True, True, False, True])
    second = synthetic([0.0, 1.5, 2.0, 2.0, 4.0], [True, True, True, True, False])
    best = best_distances([first, second])
    torch.testing.assert_close(best, torch.tensor([0.0, 1.0, 2.0, 2.0, 5.0], dtype=torch.float64))
    assert optimality(first, best) < 1 and optimality(second, best) < 1
    # an attack equal to the best everywhere scores 1; one that never succeeds scores 0
    assert optimality(synthetic(best.tolist(), [True] * 5), best) == pytest.approx(1.0)
    assert optimality(synthetic([0.0, 9, 9, 9, 9], [True, False, False, False, False]), best) == pytest.approx(0.0)
    # against a numerical integration of the robust-accuracy curves on [0, d_max]
    grid = torch.linspace(0, 5, 200001, dtype=torch.float64)

    def area(result):
        curve = (result.adversarial_distance("l2")[None, :] > grid[:, None]).double().mean(1)
        return torch.trapezoid(curve, grid)

    best_area = area(synthetic(best.tolist(), [True] * 5))
    expected = 1 - (area(first) - best_area) / (0.8 * 5 - best_area)
    assert optimality(first, best) == pytest.approx(expected.item(), abs=1e-4)
    with pytest.raises(ValueError, match="lower bound"):
        optimality(first, best_distances([second]))


def test_accuracy_and_pgd_accuracy_are_fractions(problem):
    """Clean accuracy counts the 2 relabelled inputs as errors; on a linear model PGD-20 finds the nearest
    boundary, so PGD accuracy at ε is the fraction of correct inputs whose exact L2 distance exceeds ε."""
    model, inputs, labels = problem
    assert accuracy(model, inputs, labels, batch_size=3) == 0.75
    with torch.no_grad():
        predicted = model(inputs).argmax(1)
    exact = exact_distances(model, inputs, predicted, 2)
    expected = [((predicted == labels) & (exact > eps)).double().mean().item() for eps in (0.0, 0.15, 0.3, 1.0)]
    assert expected == [0.75, 0.375, 0.125, 0.0]
    assert [pgd_accuracy(model, inputs, labels, eps, batch_size=3) for eps in (0.0, 0.15, 0.3, 1.0)] == expected
    with pytest.raises(ValueError, match="steps must be >= 1"):
        pgd_accuracy(model, inputs, labels, 0.1, steps=0)


def test_robustness_curve_sorts_the_sweeps_and_reports_rho_cw():
    fcnn, lenet = zoo.load("mnist-fcnn"), zoo.load("mnist-lenet5")
    models = {("PGN", 50.0): fcnn, ("FGM-AT", 0.3): lenet, ("PGN", 10.0): lenet, ("FGM-AT", 0.1): fcnn,
              ("PGN", 70.0): fcnn}
    test = data.first_test_images("mnist", 40)
    budget = {"search_steps": 3, "steps": 20, "learning_rate": 0.1, "initial_const": 1.0}
    table = robustness_curve(models, test, attack_kwargs=budget, batch_size=40)
    assert list(table.columns) == ["method", "parameter", "value", "benign_accuracy", "rho_cw", "median_l2",
                                   "success_rate", "n_images"]
    assert list(zip(table.method, table.value)) == sorted(models)
    assert list(table.parameter) == ["eps", "eps", "c_L", "c_L", "c_L"]
    assert (table.n_images == 40).all() and table.benign_accuracy.between(0.8, 1).all()
    assert table.success_rate.between(0.5, 1).all() and (table.rho_cw > 0.1).all() and (table.median_l2 > 0).all()
    same = table.iloc[[0, 3, 4]]  # fcnn three times: the attack is deterministic
    assert same.rho_cw.nunique() == 1 and same.benign_accuracy.nunique() == 1
    misclassified_out = robustness_curve({("PGN", 10.0): lenet}, test, attack_kwargs=budget,
                                         include_misclassified=False)
    assert misclassified_out.rho_cw[0] >= table.rho_cw[2]


def test_robustness_measures_of_the_convex_paper(problem):
    """ρ̂₂'s terms are the exact minimal L∞ distances on a linear model (no box binding); ρ̂₁'s terms are
    ‖r‖∞/‖x‖∞ of the successes only; the 99 % threshold is the (⌊0.99 N⌋ + 1)-th smallest distance."""
    model, inputs, labels = problem
    interior = 0.45 + 0.1 * torch.rand(16, 4, 6, generator=torch.Generator().manual_seed(43), dtype=torch.float64)
    with torch.no_grad():
        classes = model(interior).argmax(1)
    bounds = linearized_bounds(model, interior, classes, batch_size=3)
    torch.testing.assert_close(bounds, exact_distances(model, interior, classes, math.inf))
    correct = model(inputs).argmax(1) == labels
    assert (linearized_bounds(model, inputs[~correct], labels[~correct]) < 0).all()  # misclassified: negative margin
    result = run_attack(model, inputs, labels, partial(deepfool, norm=math.inf, steps=50))
    terms = relative_perturbations(result, inputs)
    attacked = result.success & ~result.already_adversarial
    assert terms[~attacked].isnan().all()
    torch.testing.assert_close(terms[attacked], (result.distances["linf"].double() / inputs.flatten(1).abs().amax(1).double())[attacked])
    assert fooling_threshold([5.0, 1.0, 3.0, 2.0], 0.5) == 3.0 and fooling_threshold([1.0, math.inf], 0.0) == 1.0
    assert fooling_threshold(list(range(99)) + [math.inf], 0.99) == math.inf  # 99 of 100 is not more than 99 %
    assert fooling_threshold(list(range(100)) + [math.inf], 0.99) == 99  # 100 of 101 is
    assert (fooling_threshold([[1.0, 2.0], [4.0, 3.0]], 0.5) == [2.0, 4.0]).all()  # along the last axis
    with pytest.raises(ValueError, match="fraction"):
        fooling_threshold([1.0], 1.0)
