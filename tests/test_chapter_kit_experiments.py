"""The chapter kit's experiment helpers (``advlab.chapter.experiments``): runs computed once, the grid
search's selection, C&W's best constant per image, the targeted and "All" summaries against hand-computed
values, accuracies under a bound and their paired gaps, and the norm trace of one image."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from advlab import data
from advlab.attacks import carlini_wagner_l2, ddn
from advlab.chapter import experiments as ex, tables
from advlab.chapter.claims import Effect, Unmeasured
from advlab.chapter.samples import AttackSet, Targeted
from advlab.evaluate import AttackResult, run_attack
from advlab.linear_models import make_inputs, make_model

SHAPE = (1, 4, 4)
INF = math.inf


@pytest.fixture(scope="module")
def linear():
    model = make_model(SHAPE, 4, scale=6.0, seed=3)
    images, labels = make_inputs(model, SHAPE, 7, seed=4)
    dataset = data.Dataset("toy", "test", images, labels, "synthetic", tuple("abcd"))
    return model, AttackSet(dataset, list(range(len(labels))), "the toy inputs")


def fake_result(l2: list[float], targeted: bool = False) -> AttackResult:
    """A result whose L2 distances are ``l2`` (+∞ = failure, 0 = already adversarial)."""
    n = len(l2)
    finite = torch.tensor([0.0 if math.isinf(d) else d for d in l2], dtype=torch.float64)
    return AttackResult(adv_inputs=torch.zeros(n, 1), success=torch.tensor([not math.isinf(d) for d in l2]),
                        already_adversarial=torch.tensor([d == 0 for d in l2]),
                        distances={"l0": finite, "l1": finite, "l2": finite, "linf": finite},
                        forwards=torch.ones(n, dtype=torch.float64), backwards=torch.ones(n, dtype=torch.float64),
                        seconds=1.0, targeted=targeted)


# ---- runs computed once ----------------------------------------------------------------------------

def test_equal_partials_are_one_run_and_image_iterations_count_it(linear):
    model, attacked = linear
    runs = ex.Runs()
    first = runs(model, attacked, partial(ddn, steps=12))
    assert runs(model, attacked, partial(ddn, steps=12)) is first  # an equal partial, another object
    assert len(runs) == 1 and runs.image_iterations == 12 * len(attacked)
    other = runs(model, attacked, partial(ddn, steps=12, gamma=0.1))
    assert other is not first and len(runs) == 2
    assert runs(model, attacked.first(3), partial(ddn, steps=12)) is not first  # another attack set


def test_run_on_a_targeted_view_attacks_towards_its_targets(linear):
    model, attacked = linear
    view = Targeted(attacked.images.repeat_interleave(2, 0), torch.tensor([(y + k) % 4 for y in attacked.labels.tolist()
                                                                          for k in (1, 2)]), len(attacked), 2)
    result = ex.run_on(model, view, partial(ddn, steps=30))
    assert result.targeted and len(result.success) == 2 * len(attacked)
    with torch.no_grad():
        predicted = model(result.adv_inputs).argmax(1)
    assert ((predicted == view.targets) | ~result.success).all() and result.success.any()


# ---- grid search -----------------------------------------------------------------------------------

def test_grid_search_keeps_the_smallest_median_and_lists_every_setting(linear):
    model, attacked = linear
    table, best = ex.grid_search(model, attacked, lambda steps, gamma: partial(ddn, steps=steps, gamma=gamma),
                                 {"steps": [1, 40], "gamma": [0.05, 0.2]})
    assert len(table) == 4 and list(table.columns) == ["steps", "gamma", "success_pct", "mean_l2", "median_l2"]
    winner = table.loc[table["median_l2"].idxmin()]
    assert best == {"steps": winner["steps"], "gamma": winner["gamma"]} and best["steps"] == 40
    assert isinstance(best["steps"], int)  # plain Python numbers, usable as keywords and hashable


def test_grid_search_breaks_median_ties_by_success_then_mean(linear):
    model, attacked = linear
    outcomes = {"a": [1.0, 1.0, INF], "b": [1.0, 1.0, 3.0], "c": [0.5, 1.0, 3.0]}  # equal lower medians
    fake_runs = lambda model, attacked, attack: fake_result(outcomes[attack])  # noqa: E731 (the attack is its name)
    table, best = ex.grid_search(model, attacked, lambda which: which, {"which": ["a", "b", "c"]}, runs=fake_runs)
    assert table["median_l2"].tolist() == [1.0, 1.0, 1.0]
    assert best == {"which": "c"}  # b and c succeed everywhere; c has the smaller mean


# ---- C&W's best constant -----------------------------------------------------------------------------

def test_search_record_gives_each_image_the_constant_of_its_returned_round(linear):
    model, attacked = linear
    labels = attacked.labels.clone()
    with torch.no_grad():
        labels[0] = (model(attacked.images[:1]).argmax(1) + 1) % 4  # misclassified: not attacked
    record = ex.SearchRecord()
    attack = partial(carlini_wagner_l2, search_steps=4, steps=30, learning_rate=0.1, initial_const=0.1,
                     callback=record)
    result = run_attack(model, attacked.images, labels, attack, batch_size=3)  # several batches
    constants = record.best_const(result)
    assert torch.isnan(constants[0]) and len(constants) == len(labels) and torch.isfinite(constants[1:]).any()
    rounds = []
    carlini_wagner_l2(model, attacked.images[1:], labels[1:], search_steps=4, steps=30, learning_rate=0.1,
                      initial_const=0.1, callback=rounds.append)
    expected = rounds[-1].best_const["L2"].double()
    assert torch.equal(torch.isnan(constants[1:]), torch.isnan(expected))
    assert torch.allclose(constants[1:].nan_to_num(-1), expected.nan_to_num(-1))
    assert torch.isnan(constants[1:][~result.success[1:]]).all()  # no round succeeded: NaN
    run_attack(model, attacked.images, labels, attack)  # the same record in a second run
    with pytest.raises(ValueError, match="one SearchRecord per run"):
        record.best_const(result)


# ---- summaries -------------------------------------------------------------------------------------

def test_targeted_metrics_average_case_and_least_likely():
    result = fake_result([1.0, 2.0, 3.0, 2.0, INF, 4.0], targeted=True)
    view = Targeted(torch.zeros(6, 1), torch.zeros(6, dtype=torch.long), images=2, per_image=3)
    metrics = ex.targeted_metrics(result, view)
    assert metrics["avg_success_pct"].value == pytest.approx(500 / 6)
    assert metrics["avg_mean_l2"].value == pytest.approx(2.4)
    assert metrics["ll_success_pct"].value == pytest.approx(50.0)  # the second image's worst target failed
    assert metrics["ll_mean_l2"].value == pytest.approx(3.0)
    assert all(m.n == 2 for m in metrics.values())  # n counts images, not attacks
    assert ex.least_likely_success(result, view).tolist() == [True, False]


def test_distance_metrics_of_a_per_image_minimum():
    metrics = tables.distance_metrics(torch.tensor([0.5, 1.0, 2.0, INF]), eps=1.0)
    assert metrics["success_pct"].value == pytest.approx(75.0)
    assert metrics["mean_l2"].value == pytest.approx(3.5 / 3)  # over successes
    assert metrics["median_l2"].value == 1.0  # lower median, the failure as +∞
    assert metrics["acc_at_eps_pct"].value == pytest.approx(50.0)  # distances > ε: 2 and ∞
    for m in metrics.values():
        assert m.low <= m.value <= m.high


def test_accuracy_at_and_paired_gaps():
    a = torch.tensor([2.0, 2.0, 0.5, 3.0, INF, 0.0])
    b = torch.tensor([0.5, 2.0, 0.5, 0.5, 1.2, 0.0])
    assert tables.accuracy_at(a, 1.0).value == pytest.approx(400 / 6)
    gap = ex.accuracy_gap(a, b, 1.0)
    assert gap.value == pytest.approx(2 / 6) and gap.low <= gap.value <= gap.high and gap.n == 6
    # the mean accuracy over ε ∈ [0, ε_max] is the area under the accuracy curve divided by ε_max
    grid = np.linspace(0, 2.5, 2501)
    area = [np.trapezoid([(x > e).double().mean().item() for e in grid], grid) / 2.5 for x in (a, b)]
    assert ex.mean_accuracy_gap(a, b, 2.5).value == pytest.approx(area[0] - area[1], abs=0.01)


def test_correct_flags_per_test_image():
    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return torch.nn.functional.one_hot(torch.full((len(x),), 7), 10).float()

    flags = ex.correct(Constant().eval(), "mnist", 40)
    labels = data.first_test_images("mnist", 40).labels
    assert flags.dtype == bool and flags.tolist() == (labels == 7).tolist()


def test_norm_trace_records_every_iterate_of_one_image(linear):
    model, attacked = linear
    x, y = attacked.images[:2], attacked.labels[:2]
    trace = ex.NormTrace(model, x[0], int(y[0])).eval()
    steps = []
    ddn(trace, x, y, steps=15, callback=steps.append)
    assert len(trace.norms) == 15 and trace.norms[0] == 0 and not trace.adversarial[0]
    assert trace.norms == pytest.approx([s.norm[0].item() for s in steps], abs=1e-6)
    assert trace.adversarial == [bool(s.adversarial[0]) for s in steps]


def test_trace_attack_returns_the_trajectory_and_the_returned_norm(linear):
    model, attacked = linear
    norms, adversarial, found = ex.trace_attack(model, attacked.images[0], int(attacked.labels[0]), partial(ddn, steps=20))
    adv = ddn(model, attacked.images[:1], attacked.labels[:1], steps=20)
    assert len(norms) == len(adversarial) == 20 and any(adversarial)
    assert found == pytest.approx((adv - attacked.images[:1]).norm().item())
    assert found == pytest.approx(min(n for n, a in zip(norms, adversarial) if a), abs=1e-6)  # the best iterate


def test_example_rows_leave_out_the_norm_of_a_failed_attack(linear):
    model, attacked = linear
    shown = attacked.first(3)
    result = fake_result([0.5, INF, 2.0])
    result = AttackResult(**{**result.__dict__, "adv_inputs": shown.images.clone()})
    rows = ex.example_rows(shown, {"model": (model, result)})
    assert [row[0] for row in rows] == ["clean", "model"]
    assert rows[0][2] == [shown.dataset.classes[y] for y in shown.labels] and rows[0][3] is None
    assert rows[1][3].tolist() == [0.5, INF, 2.0]  # examples_grid prints only finite norms


def test_require_and_relative_part():
    class Models:
        loaded = {("mnist", "baseline")}

        def __contains__(self, key):
            return key in self.loaded

        def name(self, dataset, role):
            return f"{dataset}-{role}"

        def train_command(self, dataset, role):
            return f"advlab zoo train {dataset}-{role}"

    ex.require(Models(), "mnist")
    with pytest.raises(Unmeasured, match="mnist-ours is not trained yet .advlab zoo train mnist-ours"):
        ex.require(Models(), "mnist", "baseline", "ours")
    a, b = np.array([1.1, 2.2, 3.3, 4.4, 5.5, INF]), np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    part = ex.relative_part("a / b − 1", a, b, Effect("above"))
    assert part.estimate.value == pytest.approx(0.1) and part.verdict()[0] == "holds"  # the failure is left out
    assert part.text().startswith("a / b − 1: 10.0 %") and part.text().endswith("(n = 6)")


def test_relative_to_divides_by_the_reference_row_of_each_group():
    frame = pd.DataFrame({"dataset": ["a", "a", "b", "b"], "attack": ["DDN", "C&W", "C&W", "DDN"],
                          "seconds": [2.0, 6.0, 9.0, 3.0]})
    out = ex.relative_to(frame, "seconds", {"attack": "DDN"}, by="dataset", name="vs DDN")
    assert out["vs DDN"].tolist() == [1.0, 3.0, 3.0, 1.0] and "vs DDN" not in frame


def test_attack_calls_take_the_devices_batch_size_unless_one_is_given():
    from advlab.chapter.experiments import BY_DEVICE, batch_size_for

    assert batch_size_for(torch.device("cpu")) == 100  # fastest per image on the book's CPU
    assert batch_size_for(torch.device("cuda", 0)) == 1000  # one launch-bound batch on a GPU
    assert batch_size_for(torch.device("meta"), BY_DEVICE) == 100
    assert batch_size_for(torch.device("cuda"), 250) == 250 and batch_size_for(torch.device("cpu"), None) is None
