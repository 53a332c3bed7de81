"""advlab.chapter.traces: per-iteration traces of ddn/anu, the statistics drawn from them (convergence, mean
curves, the γ bound and its collapse), same-conditions timing, training-step timing, per-image values
over the first test images, ANU's α_γ end value and the share of a gap, on linear models and
constructed traces whose answers are known."""

from __future__ import annotations

import math
from functools import partial

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from advlab.attacks import anu, ddn
from advlab.attacks._common import cosine_schedule
from advlab.attacks.ddn import NormUpdateStep
from advlab.chapter import stats, traces
from advlab.chapter.claims import Unmeasured
from advlab.chapter.samples import AttackSet, Targeted
from advlab.data import Dataset
from advlab.evaluate import run_attack
from advlab.training import Adversarial, Recipe
from advlab.linear_models import make_inputs, make_model

matplotlib.use("Agg")
SHAPE = (3, 7, 7)


def setup(count: int = 6):
    model = make_model(SHAPE, 10, scale=10.0, seed=11)
    inputs, labels = make_inputs(model, SHAPE, count, seed=12)
    return model, inputs, labels


def step(k: int, norm, adversarial, best, gamma, at_bound=None, eps=None) -> NormUpdateStep:
    """A constructed NormUpdateStep (per-sample lists)."""
    t = lambda v, dtype=torch.float64: torch.tensor(v, dtype=dtype)  # noqa: E731
    n = len(norm)
    return NormUpdateStep(k, t(norm), t(adversarial, torch.bool), t(best), t(gamma),
                          t(at_bound or [False] * n, torch.bool), t(eps or [1.0] * n))


def constructed(rows: list[tuple]) -> traces.StepTrace:
    """A trace fed by hand: rows of (norm, adversarial, best, gamma[, at_bound]) per iteration."""
    trace = traces.StepTrace()
    for k, row in enumerate(rows):
        trace(step(k, *row))
    return trace


# ---- StepTrace ------------------------------------------------------------------------------------

def test_trace_keeps_every_iteration_and_matches_the_callback():
    model, inputs, labels = setup()
    trace, seen = traces.StepTrace(), []
    kwargs = dict(steps=25, gamma_init=0.4, alpha_gamma=0.15)
    anu(model, inputs, labels, callback=lambda s: (trace(s), seen.append(s)), **kwargs)
    assert trace.steps == 25
    for name in traces.FIELDS:
        assert trace.field(name).shape == (25, len(inputs))
        torch.testing.assert_close(trace.field(name), torch.stack([getattr(s, name) for s in seen]), rtol=0, atol=0)
    frame = trace.frame(2)
    assert list(frame.iteration) == list(range(1, 26))
    assert {"norm", "adversarial", "best_norm", "gamma", "at_bound", "eps"} <= set(frame.columns)
    np.testing.assert_array_equal(frame.gamma, trace.field("gamma")[:, 2].numpy())


def test_trace_joins_the_batches_of_run_attack_in_order():
    model, inputs, labels = setup(7)
    whole, batched = traces.StepTrace(), traces.StepTrace()
    run_attack(model, inputs, labels, partial(ddn, steps=15, callback=whole))
    run_attack(model, inputs, labels, partial(ddn, steps=15, callback=batched), batch_size=3)
    assert batched.field("norm").shape == (15, 7)
    torch.testing.assert_close(batched.field("best_norm"), whole.field("best_norm"))
    with pytest.raises(ValueError, match="empty"):
        traces.StepTrace().field("norm")


def test_trace_attacks_records_each_attack_on_the_same_inputs():
    model, inputs, labels = setup(2)
    paths = traces.trace_attacks({"DDN": ddn, "ANU": partial(anu, gamma_init=0.4, alpha_gamma=0.15)},
                                 model, inputs, labels, steps=12)
    assert set(paths) == {"DDN", "ANU"} and all(p.steps == 12 for p in paths.values())
    assert (paths["DDN"].field("gamma") == 0.05).all()


# ---- convergence ----------------------------------------------------------------------------------

def test_first_iteration_is_one_based_and_censored_at_the_budget():
    flags = torch.tensor([[False, True, False], [True, True, False], [True, False, False]])
    assert traces.first_iteration(flags).tolist() == [2.0, 1.0, 4.0]


def test_convergence_measures_against_the_lower_final_norm_of_the_same_image():
    inf = math.inf
    # image 0: A reaches its final 1.0 at iteration 2, B is adversarial from 1 and ends at 2.0
    # image 1: A never adversarial, B reaches 3.0 at iteration 3
    a = constructed([([2, 5], [False, False], [inf, inf], [.1, .1]), ([1, 5], [True, False], [1, inf], [.1, .1]),
                     ([1, 5], [True, False], [1, inf], [.1, .1])])
    b = constructed([([2, 4], [True, False], [2, inf], [.1, .1]), ([2, 4], [True, False], [2, inf], [.1, .1]),
                     ([2, 3], [True, True], [2, 3], [.1, .1])])
    c = traces.convergence({"A": a, "B": b})
    assert c["A"]["first adversarial"].tolist() == [2, 4] and c["B"]["first adversarial"].tolist() == [1, 3]
    assert c["A"]["within 1 %"].tolist() == [2, 4]  # image 1: censored at steps + 1
    assert c["B"]["within 1 %"].tolist() == [4, 3]  # image 0: B's 2.0 is never within 1 % of A's 1.0
    table = traces.convergence_table(c, paired=("A", "B"))
    assert list(table.attack) == ["A", "B", "A − B (per image)"]
    assert table.loc[2, "first adversarial iteration"] == pytest.approx(1.0)  # mean of (2−1, 4−3)


def test_mean_curve_counts_fooled_images_and_averages_their_best_norm():
    inf = math.inf
    trace = constructed([([1, 3], [False, True], [inf, 3], [.4, .2], [True, False]),
                         ([2, 2], [True, True], [2, 2], [.5, .1])])
    curve = traces.mean_curve(trace, resamples=200)
    assert list(curve.mean_norm) == [2.0, 2.0]
    assert list(curve.fooled_pct) == [50.0, 100.0]
    assert list(curve.mean_best) == [3.0, 2.0]
    assert list(curve.at_bound_pct) == [50.0, 0.0]
    assert curve.mean_gamma.tolist() == pytest.approx([0.3, 0.3])
    assert (curve["mean_best low"] <= curve.mean_best).all() and (curve.mean_best <= curve["mean_best high"]).all()


# ---- the γ bound and its collapse -----------------------------------------------------------------

def test_gamma_bound_statistics_on_a_constructed_trace():
    inf = math.inf
    rows = [([1] * 4, [False] * 4, [inf] * 4, [.9] * 4, bound) for bound in
            ([False, True, False, False], [False, True, True, False], [False, False, False, False])]
    out = traces.gamma_bound(constructed(rows))
    assert out["samples hitting the bound pct"].value == pytest.approx(50.0)
    assert out["samples hitting the bound pct"].n == 4
    assert out["iterations at the bound pct"].value == pytest.approx(100 * 3 / 12)
    assert out["first iteration at the bound"].value == 1.0  # the lower median of (1, 2)
    none = traces.gamma_bound(constructed([([1], [False], [inf], [.5])]))
    assert none["samples hitting the bound pct"].value == 0 and none["first iteration at the bound"].n == 0


def test_gamma_collapse_counts_crossings_and_the_final_gamma():
    inf = math.inf
    rows = [([1] * 3, [False] * 3, [inf] * 3, [.4] * 3), ([1] * 3, [True, False, False], [1, inf, inf], [.2, .5, .5]),
            ([1] * 3, [False] * 3, [1, inf, inf], [.04, .6, .7])]
    out = traces.gamma_collapse(constructed(rows), reference=0.05)
    assert out["boundary crossings per image"].value == pytest.approx(2 / 3)  # image 0: 2 crossings, the others none
    assert out["final gamma below reference pct"].value == pytest.approx(100 / 3)
    assert out["median gamma below reference from iteration"].value == 4  # the median never drops below: censored
    rows[2] = ([1] * 3, [False] * 3, [1, inf, inf], [.04, .03, .7])
    assert traces.gamma_collapse(constructed(rows), 0.05)["median gamma below reference from iteration"].value == 3


def test_anu_gamma_collapses_once_the_iterate_oscillates():
    model, inputs, labels = setup()
    trace = traces.StepTrace()
    anu(model, inputs, labels, steps=100, gamma_init=0.4, alpha_gamma=0.15, callback=trace)
    out = traces.gamma_collapse(trace, reference=0.05)
    assert out["final gamma below reference pct"].value == 100.0
    assert out["boundary crossings per image"].value > 10


# ---- timing ---------------------------------------------------------------------------------------

def test_paired_timing_interleaves_in_rotating_order_and_prefers_the_attack_seconds():
    order = []

    class Result:
        seconds = 2.0

    calls = {"a": lambda: order.append("a"), "b": lambda: (order.append("b"), Result())[1], "c": lambda: order.append("c")}
    frame = traces.paired_timing(calls, repeats=3)
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert len(frame) == 9 and set(frame.label) == {"a", "b", "c"}
    assert (frame[frame.label == "b"].seconds == 2.0).all()
    assert (frame[frame.label == "a"].seconds < 1.0).all()
    with pytest.raises(ValueError):
        traces.paired_timing({}, 2)


def test_timing_ratio_is_the_ratio_of_mean_seconds_over_the_repeats():
    frame = pd.DataFrame({"repeat": [0, 0, 1, 1, 2, 2], "label": ["x", "ref"] * 3, "seconds": [1, 2, 2, 4, 3, 6]})
    ratio = traces.timing_ratio(frame, "x", "ref")
    assert ratio.value == pytest.approx(0.5) and ratio.low == pytest.approx(0.5) and ratio.n == 3
    change = traces.timing_ratio(frame, "x", "ref", change=True)
    assert change.value == pytest.approx(-0.5) and change.high == pytest.approx(-0.5)


def test_training_step_trains_a_copy_with_the_recipe():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3)).eval().requires_grad_(False)
    before = [p.clone() for p in model.parameters()]
    x, y = torch.rand(8, 1, 3, 4), torch.randint(0, 3, (8,))
    recipe = Recipe(epochs=1, lr=0.5, adversarial=Adversarial("ddn", 0.5, {"steps": 5}))
    with torch.no_grad():  # the chapter runs with gradients off: the step turns them on where it needs them
        loss = traces.training_step(model, x, y, recipe)
    assert math.isfinite(loss) and loss > 0
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))  # the model itself is untouched
    assert not model.training and not any(p.requires_grad for p in model.parameters())


# ---- per-image values over the first test images -------------------------------------------------

def attack_set(indices: list[int]) -> AttackSet:
    dataset = Dataset("mnist", "test", torch.zeros(len(indices), 1, 2, 2), torch.zeros(len(indices), dtype=torch.long),
                      "test", tuple("0123456789"))
    return AttackSet(dataset, indices, "the first test images the model classifies correctly")


def test_values_spread_over_the_first_images_put_skipped_images_at_zero():
    chosen = attack_set([0, 2, 3, 6])
    assert traces.covered(chosen, attack_set([1, 4])) == 5
    out = traces.on_first_images(chosen, torch.tensor([1.0, 2.0, 3.0, 4.0]), 5)
    assert out.tolist() == [1.0, 0.0, 2.0, 3.0, 0.0]  # 1 and 4 were skipped (misclassified): distance 0
    with pytest.raises(ValueError, match="covers the first 7"):
        traces.on_first_images(chosen, torch.ones(4), 8)
    with pytest.raises(ValueError, match="one value per"):
        traces.on_first_images(chosen, torch.ones(3), 5)


# ---- ANU's α_γ end value, the share of a gap, traced runs ----------------------------------------

def expected_gammas(adversarial: torch.Tensor, gamma0: float, alpha: list[float], bound: float) -> torch.Tensor:
    """Algorithm 2's γ_k from the statuses (A₋₁ = 0), clamped at ``bound``."""
    gamma, previous, out = torch.full(adversarial.shape[1:], gamma0, dtype=torch.float64), torch.zeros(
        adversarial.shape[1:], dtype=torch.bool), []
    for k, adv in enumerate(adversarial):
        gamma = torch.where(adv == previous, gamma * (1 + alpha[k]), gamma * (1 - alpha[k])).clamp(max=bound)
        previous = adv
        out.append(gamma)
    return torch.stack(out)


def test_anu_alpha_gamma_end_sets_the_end_of_the_alpha_gamma_schedule():
    model, inputs, labels = setup()
    base = partial(anu, steps=30, gamma_init=0.4, alpha_gamma=0.15)
    default, annealed = traces.StepTrace(), traces.StepTrace()
    base(model, inputs, labels, callback=default)
    base(model, inputs, labels, alpha_gamma_end=0.0, callback=annealed)
    for trace, end in ((default, 0.01 * 0.15), (annealed, 0.0)):
        gamma = expected_gammas(trace.field("adversarial"), 0.4, cosine_schedule(30, 0.15, end), 0.9)
        torch.testing.assert_close(trace.field("gamma").double(), gamma, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="alpha_gamma_end"):
        base(model, inputs, labels, alpha_gamma_end=1.5)

def test_share_of_gap_on_known_means():
    start, candidate, reference = np.array([2.0, 4.0, 6.0]), np.array([1.5, 3.5, 5.5]), np.array([1.0, 3.0, 5.0])
    assert traces.share_of_gap(start, candidate, reference).value == pytest.approx(0.5)
    # an image where one run failed (+∞) is left out of all three means
    failed = traces.share_of_gap(np.append(start, 9.0), np.append(candidate, math.inf), np.append(reference, 0.0))
    assert failed.value == pytest.approx(0.5) and failed.n == 4


def test_traced_runs_run_once_and_compare_per_image():
    model, inputs, labels = setup(4)
    attacked = AttackSet(Dataset("linear", "test", inputs, labels, "made up", tuple("0123456789")), list(range(4)), "all")
    made = []

    def make(steps, trace):
        made.append(steps)
        return partial(ddn, steps=steps, callback=trace)

    runs = traces.TracedRuns()
    result, trace = runs.add("a", model, attacked, partial(make, 10))
    assert runs.add("a", model, attacked, partial(make, 10))[0] is result and made == [10]
    runs.add("b", model, attacked, partial(make, 30))
    assert trace.steps == 10 and "b" in runs and "c" not in runs
    with pytest.raises(Unmeasured, match="'c'"):
        runs["c"]
    expected = stats.relative_difference(result.adversarial_distance().double().numpy(),
                                         runs["b"][0].adversarial_distance().double().numpy())
    assert runs.change("a", "b") == expected
    others = (labels + 1) % 10
    view = Targeted(inputs.repeat_interleave(2, 0), torch.stack([others, (labels + 2) % 10], 1).reshape(-1), 4, 2)
    runs.add("t", model, view, partial(make, 10))
    assert runs.distances("t").shape == (4, 2)
    assert [k for k, _ in runs.items()] == ["a", "b", "t"]


def test_plots_draw_the_traces():
    model, inputs, labels = setup(3)
    paths = traces.trace_attacks({"DDN": ddn, "ANU": partial(anu, gamma_init=0.4, alpha_gamma=0.15)},
                                 model, inputs, labels, steps=10)
    fig = traces.plot_mean_curves({label: traces.mean_curve(p, resamples=50) for label, p in paths.items()}, "t")
    assert len(fig.axes) == 5  # three panels and two twin axes
    import matplotlib.pyplot as plt

    fig2, axes = plt.subplots(3, 1)
    traces.plot_trajectories(axes, paths, boundary=1.0, gamma_max=0.9)
    assert len(axes[1].lines) == 5  # two attacks × (norm, adversarial marks) + the boundary
    plt.close("all")
