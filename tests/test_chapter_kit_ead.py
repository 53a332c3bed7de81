"""The chapter kit's EAD pieces: best / average / worst case over targets against hand-computed values,
transfer of examples to another model, and the EAD figures (shrinkage operator, metric sweeps, target grid)."""

from __future__ import annotations

import math
from functools import partial

import matplotlib

matplotlib.use("Agg")
import matplotlib.container  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from advlab.attacks import ddn  # noqa: E402
from advlab.chapter import experiments as ex, plots  # noqa: E402
from advlab.chapter.samples import Targeted, other_classes  # noqa: E402
from advlab.evaluate import AttackResult  # noqa: E402
from advlab.linear_models import LinearModel, make_inputs, make_model  # noqa: E402

INF = math.inf
# 3 images × 3 targets: image 0 succeeds on every target, image 1 fails on its second, image 2 on all.
# Image 0's smallest L1 (target 1) and smallest L2 (target 0) come from different targets, as do its
# largest L1 (target 2) and largest L2 (target 1).
L1 = [[4.0, 2.0, 6.0], [5.0, INF, 3.0], [INF, INF, INF]]
L2 = [[1.0, 3.0, 2.0], [0.5, INF, 1.5], [INF, INF, INF]]
LINF = [[0.3, 0.2, 0.1], [0.4, INF, 0.6], [INF, INF, INF]]


def view(images: int, per_image: int) -> Targeted:
    return Targeted(torch.zeros(images * per_image, 1), torch.zeros(images * per_image, dtype=torch.long), images,
                    per_image)


def fake_result(targeted: bool = True, **distances) -> AttackResult:
    """A result with per-norm (images, targets) distances (+∞ = failure), flattened image-major."""
    flat = {norm: torch.tensor(d, dtype=torch.float64).reshape(-1) for norm, d in distances.items()}
    success = torch.isfinite(next(iter(flat.values())))
    n = len(success)
    return AttackResult(adv_inputs=torch.zeros(n, 1), success=success,
                        already_adversarial=torch.zeros(n, dtype=torch.bool),
                        distances={norm: torch.where(success, d, 0.0) for norm, d in flat.items()},
                        forwards=torch.ones(n, dtype=torch.float64), backwards=torch.ones(n, dtype=torch.float64),
                        seconds=1.0, targeted=targeted)


# ---- best / average / worst case ------------------------------------------------------------------

def test_target_distances_match_hand_computed_best_average_and_worst_case():
    cases = ex.cases_from_distances(ex.target_distances(fake_result(l1=L1, l2=L2, linf=LINF), view(3, 3)))
    assert list(cases) == [f"{case}_{metric}" for case in ("best", "avg", "worst")
                           for metric in ("asr", "l1", "l2", "linf")]
    expected = {
        "best_asr": 200 / 3, "best_l1": (2 + 3) / 2, "best_l2": (1.0 + 0.5) / 2, "best_linf": (0.1 + 0.4) / 2,
        "avg_asr": 500 / 9, "avg_l1": (4 + 2 + 6 + 5 + 3) / 5, "avg_l2": (1 + 3 + 2 + 0.5 + 1.5) / 5,
        "avg_linf": (0.3 + 0.2 + 0.1 + 0.4 + 0.6) / 5,
        # only image 0 has all targets; its largest norms come from different targets
        "worst_asr": 100 / 3, "worst_l1": 6.0, "worst_l2": 3.0, "worst_linf": 0.3,
    }
    for key, value in expected.items():
        assert cases[key].value == pytest.approx(value), key
        assert cases[key].n == 3, key  # intervals count images, not attacks
        assert cases[key].low <= cases[key].value <= cases[key].high, key
    assert cases["avg_asr"].low < cases["avg_asr"].high  # a real interval on 3 images


def test_average_case_agrees_with_the_targeted_metrics_of_the_same_run():
    result = fake_result(l1=L1, l2=L2, linf=LINF)
    cases, ddn_columns = ex.cases_from_distances(ex.target_distances(result, view(3, 3), norms=("l2",))), ex.targeted_metrics(result, view(3, 3))
    assert list(cases) == ["best_asr", "best_l2", "avg_asr", "avg_l2", "worst_asr", "worst_l2"]
    assert cases["avg_asr"] == ddn_columns["avg_success_pct"] and cases["avg_l2"] == ddn_columns["avg_mean_l2"]
    assert cases["worst_asr"].value == ddn_columns["ll_success_pct"].value
    assert cases["worst_l2"].value == ddn_columns["ll_mean_l2"].value


def test_no_image_succeeding_on_all_targets_leaves_the_worst_case_undefined():
    cases = ex.cases_from_distances({"l1": np.array([[1.0, INF], [INF, 2.0]])})
    assert cases["worst_asr"].value == 0 and math.isnan(cases["worst_l1"].value)
    assert cases["best_asr"].value == 100 and cases["best_l1"].value == 1.5


@pytest.mark.parametrize("distances, message", [
    ({}, "at least one norm"),
    ({"l3": np.ones((2, 2))}, "unknown norms"),
    ({"l1": np.ones(4)}, "images, targets"),
    ({"l1": np.ones((2, 2)), "l2": np.ones((2, 3))}, "one shape"),
    ({"l1": np.array([[1.0, -1.0]])}, ">= 0"),
    ({"l1": np.array([[1.0, math.nan]])}, ">= 0"),
    ({"l1": np.array([[1.0, INF]]), "l2": np.array([[1.0, 1.0]])}, "disagree"),
])
def test_bad_distances_are_refused_by_name(distances, message):
    with pytest.raises(ValueError, match=message):
        ex.cases_from_distances(distances)


def test_target_distances_refuse_a_result_that_does_not_fit_the_view():
    with pytest.raises(ValueError, match="untargeted"):
        ex.cases_from_distances(ex.target_distances(fake_result(targeted=False, l1=L1), view(3, 3), norms=("l1",)))
    with pytest.raises(ValueError, match="9 samples.*2 images × 3 targets"):
        ex.cases_from_distances(ex.target_distances(fake_result(l1=L1), view(2, 3), norms=("l1",)))
    with pytest.raises(ValueError, match="unknown norms"):
        ex.cases_from_distances(ex.target_distances(fake_result(l1=L1), view(3, 3), norms=("l1", "L2")))


# ---- transfer --------------------------------------------------------------------------------------

def test_transfer_keeps_source_distances_where_the_other_model_predicts_the_target():
    # logits = x: the "distilled" model predicts the brightest of 3 pixels
    identity = LinearModel(torch.eye(3), torch.zeros(3)).eval()
    adv = torch.tensor([[0.9, 0.1, 0.2], [0.1, 0.2, 0.9],    # image 0 → targets 1, 2: only target 2 transfers
                        [0.8, 0.1, 0.1], [0.1, 0.7, 0.2]])   # image 1 → targets 0, 1: both transfer
    targets = torch.tensor([1, 2, 0, 1])
    l2 = torch.tensor([0.5, 0.6, 0.7, 0.8], dtype=torch.float64)
    source = AttackResult(adv_inputs=adv, success=torch.tensor([True, False, True, True]),
                          already_adversarial=torch.zeros(4, dtype=torch.bool),
                          distances={"l1": 2 * l2, "l2": l2, "linf": l2 / 2},
                          forwards=torch.ones(4, dtype=torch.float64), backwards=torch.ones(4, dtype=torch.float64),
                          seconds=0.0, targeted=True)
    pairs = Targeted(torch.zeros(4, 3), targets, 2, 2)
    moved = ex.transfer_distances(source, identity, pairs, batch_size=3)  # a batch boundary inside an image
    assert set(moved) == {"l1", "l2", "linf"} and moved["l2"].shape == (2, 2)
    np.testing.assert_array_equal(moved["l2"], [[INF, 0.6], [0.7, 0.8]])  # source success does not matter
    np.testing.assert_array_equal(moved["l1"], [[INF, 1.2], [1.4, 1.6]])
    cases = ex.cases_from_distances(moved)
    assert cases["avg_asr"].value == 75 and cases["worst_asr"].value == 50
    assert cases["best_l2"].value == pytest.approx((0.6 + 0.7) / 2)
    with pytest.raises(ValueError, match="unknown norms"):
        ex.transfer_distances(source, identity, pairs, norms=("l5",))


def test_transfer_to_the_attacked_model_itself_reproduces_its_own_cases():
    shape = (1, 4, 4)
    model = make_model(shape, 4, scale=6.0, seed=3)
    images, labels = make_inputs(model, shape, 8, seed=4)
    targets = other_classes(labels, classes=4)
    pairs = Targeted(images.repeat_interleave(3, 0), targets.reshape(-1), 8, 3)
    result = ex.run_on(model, pairs, partial(ddn, steps=11))  # too few steps for some targets
    own = ex.cases_from_distances(ex.target_distances(result, pairs))
    assert 0 < own["worst_asr"].value < own["avg_asr"].value < 100  # all three cases defined and distinct
    other = make_model(shape, 4, scale=6.0, seed=5)
    itself, moved = ex.transfer_distances(result, model, pairs), ex.transfer_distances(result, other, pairs)
    assert ex.cases_from_distances(itself) == own
    with torch.no_grad():
        hits = (other(result.adv_inputs).argmax(1) == pairs.targets).reshape(8, 3).numpy()
    np.testing.assert_array_equal(np.isfinite(moved["linf"]), hits)
    assert hits.any() and not hits.all()  # some examples transfer, some do not


# ---- figures ---------------------------------------------------------------------------------------

def test_shrinkage_operator_draws_eq_9_with_its_dead_zone():
    fig, ax = plt.subplots()
    assert plots.shrinkage_operator(ax, beta=0.1, x0=0.5) is ax
    assert len(ax.get_lines()) == 4 and len(ax.patches) == 1  # S_β, identity, box bounds 0 and 1; dead zone
    z, shrunk = (np.asarray(a) for a in ax.get_lines()[1].get_data())
    dead = np.abs(z - 0.5) <= 0.1 - 1e-9
    assert np.all(shrunk[dead] == 0.5)
    above, below = z - 0.5 > 0.1 + 1e-9, z - 0.5 < -0.1 - 1e-9
    np.testing.assert_allclose(shrunk[above], np.minimum(z[above] - 0.1, 1))
    np.testing.assert_allclose(shrunk[below], np.maximum(z[below] + 0.1, 0))
    assert shrunk.min() == 0 and shrunk.max() == 1  # the box is reached on both sides
    with pytest.raises(ValueError, match="beta"):
        plots.shrinkage_operator(ax, beta=-0.1)
    with pytest.raises(ValueError, match="x0"):
        plots.shrinkage_operator(ax, beta=0.1, x0=1.5)
    plt.close(fig)


def test_metric_sweep_draws_one_line_per_rule_with_intervals_and_the_paper_dashed():
    beta = [1e-4, 1e-3, 1e-2]
    frame = pd.DataFrame({"rule": ["EN"] * 3 + ["L1"] * 3, "beta": beta * 2,
                          "avg_asr": [100.0, 99.0, 98.0, 100.0, 97.0, 95.0],
                          "avg_l1": [20.0, 17.0, 13.0, 19.0, 14.0, 11.0]})
    frame["avg_asr low"], frame["avg_asr high"] = frame["avg_asr"] - 2, np.minimum(frame["avg_asr"] + 2, 100)
    paper = pd.DataFrame({"rule": ["EN", "EN", "L1", "L1"], "beta": [1e-4, 1e-2] * 2,
                          "avg_asr": [100.0] * 4, "avg_l1": [20.98, 13.56, 18.69, 11.69]})
    fig, axes = plt.subplots(1, 2)
    drawn = plots.metric_sweep(axes, frame, "beta", ["avg_asr", "avg_l1"], "rule", paper=paper, log_x=True)
    assert drawn == list(axes) and all(ax.get_xscale() == "log" for ax in axes)
    bars = [c for c in axes[0].containers if isinstance(c, matplotlib.container.ErrorbarContainer)]
    assert len(bars) == 2  # one interval line per rule where the column has bounds
    lines = axes[1].get_lines()  # no bounds: measured EN, L1, then the paper's EN, L1
    assert [line.get_linestyle() for line in lines] == ["-", "-", "--", "--"]
    assert lines[0].get_color() == lines[2].get_color() != lines[1].get_color()  # a rule keeps its colour
    np.testing.assert_array_equal(lines[3].get_ydata(), [18.69, 11.69])
    assert sorted(t.get_text() for t in axes[0].get_legend().get_texts()) == ["EN", "EN (paper)", "L1", "L1 (paper)"]
    with pytest.raises(ValueError, match="one axes per column"):
        plots.metric_sweep(axes[:1], frame, "beta", ["avg_asr", "avg_l1"], "rule")
    with pytest.raises(ValueError, match="missing columns"):
        plots.metric_sweep(axes, frame, "kappa", ["avg_asr", "avg_l1"], "rule")
    plt.close(fig)


def test_metric_sweep_draws_attacks_without_the_swept_parameter_flat():
    frame = pd.DataFrame({"method": ["EAD (EN)"] * 3 + ["I-FGM-L1"], "kappa": [0, 20, 40, None],
                          "avg_asr": [1.0, 40.0, 95.0, 1.6]})
    fig, ax = plt.subplots()
    plots.metric_sweep([ax], frame, "kappa", ["avg_asr"], "method")
    swept, flat = ax.get_lines()
    np.testing.assert_array_equal(swept.get_xdata(), [0, 20, 40])
    assert list(flat.get_ydata()) == [1.6, 1.6] and ax.get_xscale() == "linear"
    plt.close(fig)


@pytest.mark.parametrize("channels", [1, 3])
def test_target_grid_shows_originals_on_the_diagonal_and_marks_failures(channels):
    k = 3
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(k, channels, 8, 8, generator=generator)
    adversarial = torch.rand(k, k, channels, 8, 8, generator=generator)
    success = torch.ones(k, k, dtype=torch.bool)
    success[0, 2] = False
    fig = plots.target_grid(images, adversarial, success, ["a", "b", "c"], title="EAD (EN)")
    axes = np.array(fig.axes).reshape(k, k)
    assert all(len(ax.images) == 1 for ax in axes.ravel())

    def shown(i, j):
        return np.asarray(axes[i, j].images[0].get_array())

    expect = lambda t: t.permute(1, 2, 0).squeeze(-1).numpy()  # noqa: E731
    np.testing.assert_allclose(shown(1, 1), expect(images[1]))
    np.testing.assert_allclose(shown(1, 2), expect(adversarial[1, 2]))
    np.testing.assert_allclose(shown(0, 2), expect(images[0]))  # a failure shows the original, marked
    assert [t.get_text() for t in axes[0, 2].texts] == ["×"] and not axes[1, 2].texts
    assert [ax.get_title() for ax in axes[0]] == ["a", "b", "c"] and axes[2, 0].get_ylabel() == "c"
    plt.close(fig)


def test_target_grid_refuses_shapes_that_do_not_match():
    images = torch.rand(3, 3, 8, 8)
    with pytest.raises(ValueError, match="adversarial must be"):
        plots.target_grid(images, torch.rand(3, 2, 3, 8, 8), torch.ones(3, 3, dtype=torch.bool), "abc")
    with pytest.raises(ValueError, match="success mask and 3 labels"):
        plots.target_grid(images, torch.rand(3, 3, 3, 8, 8), torch.ones(3, 3, dtype=torch.bool), "ab")
    with pytest.raises(ValueError, match="C = 1 or 3"):
        plots.target_grid(torch.rand(3, 2, 8, 8), torch.rand(3, 3, 2, 8, 8), torch.ones(3, 3, dtype=torch.bool), "abc")


def test_run_rules_gives_each_rule_its_own_result_from_one_run():
    """A toy attack returning two "rules" (the input itself and a fixed image) is called once per batch."""
    calls = []

    def two_rules(model, inputs, labels, targeted=False):
        calls.append(len(inputs))
        return {"same": inputs.clone(), "grey": torch.full_like(inputs, 0.5)}

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)).eval()
    images = torch.rand(5, 1, 2, 2)
    pairs = Targeted(images.repeat_interleave(2, 0), torch.tensor([1, 2] * 5), 5, 2)
    results = ex.run_rules(model, pairs, two_rules, batch_size=4)
    assert set(results) == {"same", "grey"} and sum(calls) == len(pairs.inputs) - int(results["same"].already_adversarial.sum())
    assert torch.equal(results["same"].distances["l2"], torch.zeros(10))
    attacked = ~results["grey"].already_adversarial
    assert (results["grey"].distances["l2"][attacked] > 0).all()
    assert torch.equal(results["grey"].forwards, results["same"].forwards)
