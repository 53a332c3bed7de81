"""The chapter kit: intervals against known cases, the five verdicts on constructed data, image
selection, targets, compare and the claims table."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from advlab.chapter import claims as C
from advlab.chapter import samples, stats, tables
from advlab.chapter.claims import Claims, Effect, Equivalent, Part, Threshold, Unmeasured
from advlab.chapter.stats import Estimate


# ---- intervals -------------------------------------------------------------------------------------

@pytest.mark.parametrize("successes, n, low, high", [
    (8, 10, 0.4902, 0.9433),     # Wilson 1927 / Newcombe 1998 table: 8/10
    (0, 10, 0.0, 0.2775),        # zero successes: the interval still has width
    (10, 10, 0.7225, 1.0),
    (81, 263, 0.2553, 0.3662),   # Newcombe (1998), Table I, example (81/263)
])
def test_wilson_matches_published_intervals(successes, n, low, high):
    estimate = stats.wilson(successes, n)
    assert estimate.value == pytest.approx(successes / n)
    assert (estimate.low, estimate.high) == pytest.approx((low, high), abs=5e-4)


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError, match="n = 0"):
        stats.wilson(0, 0)
    with pytest.raises(ValueError, match="successes"):
        stats.wilson(11, 10)


def test_bootstrap_mean_interval_matches_the_normal_theory():
    rng = np.random.default_rng(3)
    widths, covered = [], 0
    for trial in range(40):
        x = rng.normal(2.0, 0.5, 400)
        estimate = stats.mean(x)
        widths.append(estimate.half_width)
        covered += estimate.low <= 2.0 <= estimate.high
    assert np.mean(widths) == pytest.approx(1.96 * 0.5 / math.sqrt(400), rel=0.1)
    assert covered >= 33  # 95 % coverage: 38 expected of 40, ≥ 33 with probability > 0.99


def test_mean_is_over_successes_and_median_counts_failures_as_infinite():
    distances = np.array([1.0, 2.0, 3.0, np.inf, np.inf])
    assert stats.mean(distances).value == pytest.approx(2.0)
    assert stats.median(distances).value == 3.0
    assert stats.median(np.array([1.0, np.inf, np.inf])).value == math.inf


def test_paired_bootstrap_sees_a_small_effect_that_an_unpaired_view_would_miss():
    rng = np.random.default_rng(0)
    base = rng.lognormal(0, 0.5, 300)          # images differ a lot ...
    better = base * (1 - 0.02 + rng.normal(0, 0.01, 300))  # ... but A is 2 % below B on each image
    estimate = stats.relative_difference(better, base)
    assert estimate.high < 0 and estimate.low > -0.03
    unpaired = (stats.mean(better), stats.mean(base))
    assert unpaired[0].high > unpaired[1].low  # the two marginal intervals overlap


def test_relative_difference_uses_only_samples_where_both_succeeded():
    a = np.array([1.0, 2.0, np.inf, 4.0])
    b = np.array([2.0, 4.0, 1.0, np.inf])
    assert stats.relative_difference(a, b).value == pytest.approx((1 + 2) / (2 + 4) - 1)


def test_cluster_bootstrap_resamples_whole_images():
    # 20 images x 9 targets: all targets of an image share its success, so the rate's interval must be
    # as wide as for 20 independent samples, not 180
    flags = np.repeat(np.arange(20) % 2 == 0, 9).reshape(20, 9)
    clustered = stats.rate(flags)
    independent = stats.wilson(90, 180)
    assert clustered.value == pytest.approx(0.5)
    assert clustered.half_width > 1.5 * independent.half_width


def test_bootstrap_is_seeded_and_checks_pairs():
    x = np.random.default_rng(1).normal(size=50)
    assert stats.mean(x) == stats.mean(x)
    with pytest.raises(ValueError, match="equal lengths"):
        stats.relative_difference(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="non-empty"):
        stats.mean(np.array([]))


def test_samples_to_resolve_scales_with_the_squared_half_width():
    estimate = Estimate(0.01, -0.01, 0.03, 100, "test")  # half-width 0.02, value 0.01 from 0
    assert stats.samples_to_resolve(estimate, [0.0]) == 400  # half-width must shrink to 0.01: 4x the samples
    assert stats.samples_to_resolve(estimate, [0.5]) is None  # boundary not inside: nothing to resolve


# ---- verdicts -----------------------------------------------------------------------------------------

def interval(low, high, n=100):
    return Estimate((low + high) / 2, low, high, n, "constructed")


@pytest.mark.parametrize("low, high, expected", [
    (-0.06, -0.02, C.HOLDS),           # excludes 0, reaches the paper's −3.5 %
    (-0.03, -0.01, C.QUALITATIVE),     # excludes 0 but also −3.5 %: smaller effect
    (-0.05, 0.01, C.INCONCLUSIVE),     # contains both −3.5 % and 0
    (-0.02, 0.02, C.DOES_NOT_HOLD),    # excludes the paper's −3.5 %, no direction shown
    (0.01, 0.03, C.DOES_NOT_HOLD),     # wrong direction
])
def test_effect_rule_gives_each_outcome(low, high, expected):
    rule = Effect("below", claimed=-0.035)
    assert Part("ANU vs DDN", interval(low, high), rule).verdict()[0] == expected


@pytest.mark.parametrize("low, high, expected", [
    (0.1, 0.3, C.HOLDS), (-0.1, 0.2, C.INCONCLUSIVE), (-0.3, -0.01, C.DOES_NOT_HOLD), (-0.3, 0.0, C.DOES_NOT_HOLD),
])
def test_ordering_rule(low, high, expected):
    assert Effect("above").judge(interval(low, high))[0] == expected


@pytest.mark.parametrize("low, high, expected", [
    (90, 200, C.HOLDS), (20, 60, C.QUALITATIVE), (0.5, 0.9, C.DOES_NOT_HOLD), (70, 120, C.INCONCLUSIVE),
])
def test_threshold_rule_with_a_qualitative_bound(low, high, expected):
    rule = Threshold("at least", 80, qualitative=1)
    assert rule.judge(interval(low, high))[0] == expected


@pytest.mark.parametrize("low, high, expected", [
    (-0.005, 0.008, C.HOLDS), (-0.02, 0.005, C.INCONCLUSIVE), (0.012, 0.03, C.DOES_NOT_HOLD),
])
def test_equivalence_rule(low, high, expected):
    assert Equivalent(0.01).judge(interval(low, high))[0] == expected


def test_within_five_percent_is_an_upper_threshold():
    rule = Threshold("at most", 0.05, percent=True)
    assert rule.judge(interval(0.01, 0.04))[0] == C.HOLDS
    assert rule.judge(interval(0.06, 0.09))[0] == C.DOES_NOT_HOLD
    assert rule.describe() == "whole interval ≤ +5.0 %"
    assert Equivalent(0.01, percent="pp").describe() == "whole interval within ± 1.0 pp (equivalence)"


def test_a_claim_takes_its_weakest_parts_verdict_and_says_what_would_resolve_it():
    book = Claims("toy", "smoke")
    row = book.judge("T-1", "A beats B on both datasets", "−3 % / −4 %", [
        Part("MNIST", interval(-0.06, -0.02), Effect("below", claimed=-0.03)),
        Part("CIFAR-10", interval(-0.04, 0.02, n=50), Effect("below", claimed=-0.04)),
    ], section="Table 1")
    assert row["verdict"] == C.INCONCLUSIVE
    assert row["n"] == 50 and row["samples_to_resolve"] > 50
    assert "MNIST: " in row["here"] and "(n = 50)" in row["here"]
    assert row["rule"] == ("2 of 2 parts: interval below +0.0 % and not excluding the paper's size; qualitatively: "
                           "below +0.0 % only (paper: -4.0 % … -3.0 %)")


def test_a_bound_from_a_truncated_reference_withholds_the_verdicts_it_could_have_produced():
    within = Threshold("at most", 0.05)
    measured = interval(-0.09, -0.07)  # DDN 8 % better than a truncated C&W: "holds" only if C&W had converged
    assert Part("x", measured, within).verdict()[0] == C.HOLDS
    assert Part("x", measured, within, bound="lower").verdict()[0] == C.INCONCLUSIVE
    assert Part("x", interval(0.07, 0.09), within, bound="lower").verdict()[0] == C.DOES_NOT_HOLD  # stands
    assert Part("x", measured, Equivalent(0.025), bound="both").verdict()[0] == C.INCONCLUSIVE
    assert "a lower bound" in Part("x", measured, within, bound="lower").text()
    with pytest.raises(ValueError, match="bound"):
        Part("x", measured, within, bound="left").verdict()


def test_unmeasured_and_untestable_claims_are_recorded_with_their_reason():
    book = Claims("toy", "smoke")

    def needs_a_model():
        raise Unmeasured("model cifar10-cnn-ddn-at not trained yet")

    book.judge("T-2", "s", "p", needs_a_model, section="x")
    book.not_tested("T-3", "ImageNet only", "p", "no ImageNet data offline")
    table = book.table()
    assert list(table["verdict"]) == [C.NOT_TESTED, C.NOT_TESTED]
    assert "not trained" in table.loc[0, "here"] and "ImageNet" in table.loc[1, "here"]
    assert book.counts()[C.NOT_TESTED] == 2
    with pytest.raises(ValueError, match="already"):
        book.not_tested("T-3", "again", "p", "r")


# ---- images and targets --------------------------------------------------------------------------------

class Fixed(torch.nn.Module):
    """Predicts class 0 for every image whose index (stored in pixel 0) is odd, else the label."""

    def __init__(self, labels):
        super().__init__()
        self.labels = labels
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        index = (x[:, 0, 0, 0] * 1e4).round().long()
        wrong = (index % 2 == 1) & (self.labels[index] != 0)
        predicted = torch.where(wrong, 0, self.labels[index])
        return torch.nn.functional.one_hot(predicted, 10).float() + 0 * self.w


def test_attack_set_takes_the_first_correctly_classified_images(monkeypatch):
    from advlab import data

    n = 50
    labels = torch.arange(n) % 10
    images = (torch.arange(n).double() / 1e4).float()[:, None, None, None].expand(n, 1, 2, 2).clone()
    monkeypatch.setattr(data, "TEST_SIZE", n)
    monkeypatch.setattr(data, "first_test_images", lambda name, k: data.Dataset(
        name, "test", images[:k], labels[:k], f"first {k}", tuple("0123456789")))
    model = Fixed(labels).eval()
    chosen = samples.attack_set("toy", 10, correct_for=[model])
    expected = [i for i in range(n) if i % 2 == 0 or labels[i] == 0][:10]
    assert chosen.indices == expected
    assert torch.equal(chosen.labels, labels[expected])
    assert chosen.dataset.source == f"first {expected[-1] + 1}"
    assert "classifies correctly" in chosen.describe()
    assert samples.attack_set("toy", 7).indices == list(range(7))
    with pytest.raises(samples.TooFewImages, match="only 25 of the 50"):
        samples.attack_set("toy", 26, correct_for=[model])


def test_targets_are_the_other_classes_in_increasing_order():
    labels = torch.tensor([3, 0, 9])
    targets = samples.other_classes(labels)
    assert targets.tolist()[0] == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert targets.tolist()[1] == list(range(1, 10))
    assert samples.other_classes(labels, count=2).tolist() == [[0, 1], [1, 2], [0, 1]]
    with pytest.raises(ValueError, match="count"):
        samples.other_classes(labels, count=10)


# ---- tables ------------------------------------------------------------------------------------------------

def test_compare_puts_paper_here_interval_and_delta_side_by_side():
    paper = pd.DataFrame({"attack": ["DDN", "C&W", "ImageNet-only"], "mean_l2": [1.0, 2.0, 3.0]})
    here = pd.DataFrame([tables.row({"mean_l2": Estimate(1.1, 1.0, 1.2, 30, "t")}, attack="DDN", n=30),
                         tables.row({"mean_l2": Estimate(2.0, 1.9, 2.1, 30, "t")}, attack="C&W", n=30),
                         tables.row({"mean_l2": Estimate(5.0, 4.0, 6.0, 30, "t")}, attack="extra", n=30)])
    out = tables.compare(paper, here, on=["attack"], metrics=["mean_l2"], extra=["n"], missing="no ImageNet")
    assert list(out["attack"]) == ["DDN", "C&W", "ImageNet-only", "extra"]
    assert list(out["mean_l2 Δ%"][:2]) == [10.0, 0.0]
    assert list(out["note"]) == ["", "", "no ImageNet", "not in the paper"]
    shown = tables.display_frame(out)
    assert shown.loc[0, "mean_l2 (here) [95 % CI]"] == "1.100 [1.000, 1.200]"
    assert shown.loc[2, "mean_l2 (here) [95 % CI]"] == "–"
    assert "mean_l2 low" not in shown


def test_attack_metrics_on_a_real_attack_result():
    from advlab.evaluate import AttackResult

    n = 40
    success = torch.arange(n) % 4 != 0
    result = AttackResult(adv_inputs=torch.zeros(n, 1), success=success, already_adversarial=torch.zeros(n, dtype=bool),
                          distances={"l2": torch.linspace(1, 2, n)}, forwards=torch.full((n,), 101.0),
                          backwards=torch.full((n,), 100.0), seconds=3.0, targeted=False)
    metrics = tables.attack_metrics(result)
    assert metrics["success_pct"].value == pytest.approx(75.0)
    assert metrics["success_pct"].low < 75 < metrics["success_pct"].high
    assert metrics["mean_l2"].value == pytest.approx(torch.linspace(1, 2, n)[success].double().mean().item())
    assert metrics["gradients"].value == 100 and metrics["gradients"].low == 100
    assert json.dumps(tables.row(metrics, attack="x"))  # plain numbers, ready for CSV


def test_distortion_bars_draw_one_bar_per_category_and_group_with_intervals():
    import matplotlib
    import matplotlib.container

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from advlab.chapter import plots

    frame = pd.DataFrame({"attack": ["EAD", "EAD", "C&W", "C&W"], "norm": ["L1", "L2", "L1", "L2"],
                          "mean": [10.0, 1.5, 14.0, 1.4], "mean low": [9.0, 1.4, 13.0, 1.3],
                          "mean high": [11.0, 1.6, 15.0, 1.5]})
    fig, ax = plt.subplots()
    plots.distortion_bars(ax, frame, category="norm", group="attack", value="mean")
    heights = sorted(patch.get_height() for patch in ax.patches)
    assert heights == sorted(frame["mean"])
    bars = [c for c in ax.containers if isinstance(c, matplotlib.container.BarContainer)]
    assert len(bars) == 2 and all(c.errorbar is not None for c in bars)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["L1", "L2"]
    plt.close(fig)


def test_judge_each_names_the_unmeasured_groups_and_judges_the_others():
    book = Claims("toy", "smoke")

    def make(key):
        if key == "b":
            raise Unmeasured("model not trained")
        return [Part(f"{key} change", Estimate(-0.2, -0.3, -0.1, 20, "test"), Effect("below"))]

    row = book.judge_each("T-C1", "A below B", "paper", {"A": "a", "B": "b"}, make, section="s", caveat="scale")
    assert row["verdict"] == C.HOLDS and row["caveat"] == "scale; B not tested: model not trained"
    none = book.judge_each("T-C2", "A below B", "paper", {"B": "b"}, make, section="s")
    assert none["verdict"] == C.NOT_TESTED and "B not tested: model not trained" in none["here"]


def test_a_bootstrap_over_too_few_images_is_inconclusive_whatever_its_interval():
    narrow = Estimate(-0.2, -0.21, -0.19, C.MIN_BOOTSTRAP_SAMPLES - 1, "percentile bootstrap (4000 resamples)")
    assert Part("x", narrow, Effect("below")).verdict()[0] == C.INCONCLUSIVE
    enough = Estimate(-0.2, -0.21, -0.19, C.MIN_BOOTSTRAP_SAMPLES, "percentile bootstrap (4000 resamples)")
    assert Part("x", enough, Effect("below")).verdict()[0] == C.HOLDS
    rate = Estimate(1.0, 0.9, 1.0, 2, "Wilson score interval")
    assert Part("x", rate, Threshold("at least", 0.5)).verdict()[0] == C.HOLDS
    row = Claims("toy", "smoke").judge("T-C1", "s", "p", [Part("x", narrow, Effect("below"))], section="s")
    assert row["verdict"] == C.INCONCLUSIVE and row["samples_to_resolve"] == C.MIN_BOOTSTRAP_SAMPLES


def test_display_keeps_small_parameters_readable():
    shown = tables.display_frame(pd.DataFrame({"beta": [0.0, 1e-5, 5e-4, 1e-2], "mean_l2": [1.23456, 0.0004, 2.0, 3.0]}))
    assert list(shown["beta"]) == ["0.000", "1e-05", "0.0005", "0.010"]
    assert list(shown["mean_l2"]) == ["1.235", "0.0004", "2.000", "3.000"]


def test_curve_gap_pairs_whole_samples_over_the_grid():
    """min / mean over the grid of the per-point difference of column means, resampling whole rows."""
    rng = np.random.default_rng(0)
    a = rng.random((300, 4)) < [0.2, 0.4, 0.6, 0.8]
    b = a.copy()
    b[:30, 1] = ~b[:30, 1]  # B differs from A at one grid point only
    per_point = a.mean(0) - b.mean(0)
    low = stats.curve_gap(a, b, "min")
    assert low.value == pytest.approx(per_point.min()) and low.low <= low.value <= low.high
    assert stats.curve_gap(a, b, "mean").value == pytest.approx(per_point.mean())
    same = stats.curve_gap(a, a, "min")
    assert same.value == same.low == same.high == 0
    with pytest.raises(ValueError, match="reduce"):
        stats.curve_gap(a, b, "max")
    with pytest.raises(ValueError, match="one shape"):
        stats.curve_gap(a, b[:, :3])
