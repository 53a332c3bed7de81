"""advlab.benchmark: budgets turned into schedules, contenders that keep to their budget, AttackBench's
optimality (vectorised, against the scalar version), the recommendation and the implementation verdicts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from advlab import benchmark as bm
from advlab import data, zoo
from advlab.chapter import stats
from advlab.chapter.samples import AttackSet
from advlab.evaluate import AttackResult, optimality, optimality_of

SETTINGS = bm.Settings("mnist", cw_learning_rate=0.1, cw_initial_const=1.0, ead_initial_const=1.0,
                       eps_max={"l2": 8.0, "l1": 100.0, "linf": 0.6}, deepfool_steps=5)


def test_schedules_fit_their_budget():
    assert bm.search_schedule(100) == (4, 25) and bm.search_schedule(25) == (1, 25)
    assert bm.search_schedule(1000) == (9, 111) and bm.search_schedule(10) == (1, 10)
    assert bm.eps_search_schedule(25) == (5, 4) and bm.eps_search_schedule(100) == (10, 9)
    assert bm.eps_search_schedule(1000) == (100, 9)
    for budget in (2, 3, 7, 20, 25, 50, 99, 100, 333, 1000):
        rounds, steps = bm.search_schedule(budget)
        assert rounds * steps <= budget and 1 <= rounds <= 9
        steps, halvings = bm.eps_search_schedule(budget)
        assert (halvings + 1) * steps <= budget and steps >= 1 and halvings >= 1
    with pytest.raises(ValueError, match="budget"):
        bm.search_schedule(0)
    with pytest.raises(ValueError, match="budget"):
        bm.eps_search_schedule(1)


def test_optimality_of_matches_the_scalar_version_and_vectorises():
    best = torch.tensor([0.0, 1.0, 2.0, 3.0, math.inf], dtype=torch.float64)
    distance = torch.tensor([0.0, 1.5, 2.0, math.inf, math.inf], dtype=torch.float64)
    result = AttackResult(adv_inputs=torch.zeros(5, 1), success=torch.isfinite(distance),
                          already_adversarial=distance == 0, distances={"l2": distance.nan_to_num(posinf=9.0)},
                          forwards=torch.ones(5), backwards=torch.ones(5), seconds=0.0, targeted=False)
    value = optimality(result, best)
    # by hand: d_max = 3, A(best) = (0+1+2+3+3)/5, A(attack) = (0+1.5+2+3+3)/5, c = 4/5
    assert value == pytest.approx(1 - (9.5 / 5 - 9 / 5) / (0.8 * 3 - 9 / 5))
    assert optimality_of(distance.numpy(), best.numpy()) == pytest.approx(value)
    stacked = optimality_of(np.stack([distance.numpy(), best.numpy()]), np.stack([best.numpy(), best.numpy()]))
    assert stacked == pytest.approx([value, 1.0])
    assert math.isnan(optimality_of(np.array([0.0, 0.0]), np.array([0.0, 0.0])))  # undefined: no nonzero best


@pytest.fixture(scope="module")
def mnist():
    model = zoo.load("mnist-smallcnn", "quick").eval()
    images = data.first_test_images("mnist", 4)
    return model, AttackSet(images, list(range(4)), "the first 4 test images")


def test_every_advlab_contender_keeps_to_its_budget(mnist):
    """Counted backward passes never exceed the configured budget; DDN and ANU use all of it."""
    model, attacked = mnist
    measured = bm.measure(model, attacked, bm.advlab_contenders(SETTINGS, [20]))
    assert not measured.failed and measured.floor > 0
    for (attack, implementation, budget), norm in {(key, norm) for key, norm in measured.results}:
        result = measured.results[(attack, implementation, budget), norm]
        attacked_rows = ~result.already_adversarial
        if budget is not None and attacked_rows.any():
            assert result.backwards[attacked_rows].max() <= budget, attack
            if attack in ("DDN", "ANU"):
                assert (result.backwards[attacked_rows] == budget).all()
    assert {key[0] for key in measured.contenders} == {"DeepFool", "FGM", "DDN", "ANU", "C&W-L2", "EAD", "I-FGM",
                                                     "PGD", "Alg1-n"}
    for norm in bm.THREAT_MODELS:
        best = bm.best_known(measured, norm)
        for result in measured.scored(norm).values():
            assert (result.adversarial_distance(norm) >= best).all()
        frame = bm.scores(measured, norm)
        assert frame["optimality"].between(0, 1).all() and (frame["threat model"] == bm.THREAT_NAMES[norm]).all()


def test_a_public_failure_is_recorded_and_an_advlab_failure_raises(mnist):
    model, attacked = mnist

    def broken(model, inputs, labels, targeted=False):
        raise RuntimeError("library bug")

    public = bm.Contender("DDN", "Foolbox", ("l2",), 5, broken)
    measured = bm.measure(model, attacked, [public])
    assert measured.failed == {("DDN", "Foolbox", 5): "RuntimeError: library bug"} and not measured.results
    with pytest.raises(RuntimeError, match="library bug"):
        bm.measure(model, attacked, [bm.Contender("DDN", "advlab", ("l2",), 5, broken)])


def test_contenders_reject_unknown_implementations():
    with pytest.raises(ValueError, match="unknown implementations"):
        bm.contenders(SETTINGS, [20], implementations=("advlab", "cleverhans"))
    keys = {c.key for c in bm.contenders(SETTINGS, [20], [40])}
    assert ("DDN", "advlab", 20) in keys and ("C&W-L2", bm.EARLY_ABORT, 20) in keys
    assert not any(k[1] in bm.PUBLIC and k[2] == 20 for k in keys) and any(k[1] in bm.PUBLIC and k[2] == 40 for k in keys)


def _measured(distances: dict[tuple, list[float]]) -> bm.Measured:
    results = {}
    for key, values in distances.items():
        d = torch.tensor(values, dtype=torch.float64)
        results[key, "l2"] = AttackResult(adv_inputs=torch.zeros(len(d), 1), success=torch.isfinite(d),
                                          already_adversarial=torch.zeros(len(d), dtype=torch.bool),
                                          distances={"l2": d.nan_to_num(posinf=99.0)}, forwards=torch.full((len(d),), 5.0),
                                          backwards=torch.full((len(d),), 5.0 if key[2] else 30.0), seconds=1.0,
                                          targeted=False)
    return bm.Measured(results, {}, floor=0.1, failed={})


def test_recommend_takes_the_highest_mean_optimality_that_fits_the_budget():
    a = _measured({("DDN", "advlab", 10): [1.0, 2.0, 3.0, 4.0], ("C&W-L2", "advlab", 10): [1.2, 2.5, math.inf, 4.0],
                   ("DeepFool", "advlab", None): [0.5, 1.0, 1.5, 2.0]})  # DeepFool: 30 gradients, over budget 10
    recommendation = bm.recommend({"m": a, "n": a}, "l2", 10)
    assert (recommendation["attack"], recommendation["configured for"]) == ("DDN", 10)
    assert recommendation["runner-up"] == "C&W-L2 (advlab, 10)"
    lead = recommendation["per model"]["m"]["lead"]
    assert lead.value > 0
    assert bm.recommend({"m": a}, "l2", 40)["attack"] == "DeepFool"  # now within its measured count
    assert bm.recommend({"m": a}, "l2", 5) is None


def test_gap_verdicts():
    def est(value, low, high):
        return stats.Estimate(value, low, high, 100, "test")
    assert bm.gap_verdict(est(0, -0.02, 0.02), est(0.01, -0.02, 0.03)) == "agrees"
    assert bm.gap_verdict(est(0.2, 0.1, 0.3), est(0.5, 0.3, 0.8)) == "more successes, larger norms"
    assert bm.gap_verdict(est(-0.3, -0.4, -0.2), est(-0.1, -0.2, -0.06)) == "fewer successes, smaller norms"
    assert bm.gap_verdict(est(0, -0.02, 0.02), est(0.002, 0.001, 0.003)) == "agrees"  # resolved, but negligible
    assert bm.gap_verdict(est(0, -0.02, 0.02), est(0.04, -0.02, 0.12)) == "norms inconclusive"
    assert bm.gap_verdict(est(0.1, 0.05, 0.2), est(0.0, -0.01, 0.01)) == "more successes, same norms (±5 %)"
    assert bm.gap_verdict(est(0, 0, 0), est(math.nan, math.nan, math.nan)) == "no common success"


def test_by_model_puts_each_model_in_a_column_with_its_interval():
    a = _measured({("DDN", "advlab", 10): [1.0, 2.0, 3.0, 4.0], ("C&W-L2", "advlab", 10): [1.2, 2.5, math.inf, 4.0]})
    frame = pd.concat([bm.scores(a, "l2", model=label) for label in ("m", "n")])
    table = bm.by_model(frame, "l2", "median_l2", ["n", "m"])
    assert list(table.columns[:5]) == ["attack", "implementation", "budget", "n", "n low"]
    assert list(table.attack) == ["DDN", "C&W-L2"] and table["m"].tolist() == table["n"].tolist()
    assert table.loc[table.attack == "C&W-L2", "m"].item() == 2.5  # the lower median, the failure counted as +∞
