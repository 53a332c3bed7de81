"""The ``callback`` of ``ddn`` / ``anu`` (per iteration) and ``ead`` / ``ead_rules`` (per search round):
what it reports, and that it changes nothing. C&W's is tested with the attack in test_attacks.py."""

from __future__ import annotations

import math

import torch

from advlab.attacks import anu, ddn, ead, ead_rules
from advlab.attacks._common import cosine_schedule
from advlab.attacks.ddn import NormUpdateStep
from advlab.linear_models import make_inputs, make_model


def setup():
    model = make_model((3, 7, 7), 10, scale=10.0, seed=11)
    inputs, labels = make_inputs(model, (3, 7, 7), 6, seed=12)
    return model, inputs, labels


def record(attack, *args, **kwargs):
    steps: list[NormUpdateStep] = []
    adv = attack(*args, callback=steps.append, **kwargs)
    return adv, steps


def test_callback_reports_every_iteration_and_changes_nothing():
    model, inputs, labels = setup()
    for targeted in (False, True):
        kwargs = dict(targeted=targeted, steps=30, gamma_init=0.4, alpha_gamma=0.15, gamma_max=0.9)
        adv, steps = record(anu, model, inputs, labels, **kwargs)
        assert torch.equal(adv, anu(model, inputs, labels, **kwargs))
        assert [s.step for s in steps] == list(range(30))
        for s in steps:
            for field in ("norm", "adversarial", "best_norm", "gamma", "gamma_at_bound", "eps"):
                assert getattr(s, field).shape == (len(inputs),)
            assert s.adversarial.dtype == torch.bool and s.gamma_at_bound.dtype == torch.bool
            assert (s.gamma <= 0.9).all() and (s.gamma > 0).all() and (s.eps > 0).all()
            assert (s.gamma[s.gamma_at_bound] == 0.9).all()
        assert (steps[0].norm == 0).all()
        # best norm: non-increasing, the minimum over the adversarial iterates so far, and the returned norm
        norms = torch.stack([s.norm for s in steps])
        adversarial = torch.stack([s.adversarial for s in steps])
        best = torch.stack([s.best_norm for s in steps])
        expected = torch.where(adversarial, norms, torch.full_like(norms, math.inf)).cummin(0).values
        torch.testing.assert_close(best, expected, rtol=0, atol=0)
        final = (adv - inputs).flatten(1).norm(dim=1)
        found = torch.isfinite(best[-1])
        torch.testing.assert_close(final[found], best[-1][found], rtol=0, atol=1e-6)
        # the next iterate lies on (or, clipped to the box, inside) the sphere of radius ε_k, up to quantisation
        rounding = 0.5 / 255 * math.sqrt(inputs[0].numel())
        assert (norms[1:] <= torch.stack([s.eps for s in steps[:-1]]) + rounding + 1e-6).all()


def test_callback_shows_the_gamma_bound():
    """γ₀ = 0.5, α_γ = 0.5 would exceed 1 in two equal statuses: the bound is hit and reported."""
    model, inputs, labels = setup()
    _, steps = record(anu, model, inputs, labels, steps=40, gamma_init=0.5, alpha_gamma=0.5, gamma_max=0.9)
    at_bound = torch.stack([s.gamma_at_bound for s in steps])
    gamma = torch.stack([s.gamma for s in steps])
    assert at_bound.any() and not at_bound[0].any()  # step 0: γ = 0.5·1.5 = 0.75 < 0.9 (A_{-1} = A_0 = 0)
    assert (gamma[at_bound] == 0.9).all()
    # recompute Algorithm 2's unbounded update from the reported statuses and the previous γ
    alpha = cosine_schedule(40, 0.5, 0.005)
    adversarial = torch.stack([s.adversarial for s in steps])
    for k in range(1, 40):
        same = adversarial[k] == adversarial[k - 1]
        unbounded = torch.where(same, gamma[k - 1] * (1 + alpha[k]), gamma[k - 1] * (1 - alpha[k]))
        assert torch.equal(at_bound[k], unbounded > 0.9)


def test_ddn_callback_has_constant_gamma_and_anu_zero_alpha_is_ddn():
    model, inputs, labels = setup()
    adv_ddn, steps_ddn = record(ddn, model, inputs, labels, steps=25, gamma=0.05)
    adv_anu, steps_anu = record(anu, model, inputs, labels, steps=25, gamma_init=0.05, alpha_gamma=0.0)
    assert torch.equal(adv_ddn, adv_anu) and torch.equal(adv_ddn, ddn(model, inputs, labels, steps=25, gamma=0.05))
    for a, b in zip(steps_ddn, steps_anu):
        assert all(torch.equal(x, y) for x, y in zip(a[1:], b[1:]))
        assert (a.gamma == 0.05).all() and not a.gamma_at_bound.any()


def test_ead_callback_reports_each_rule_and_changes_nothing():
    """One state per round with the round's constant, and per decision rule the best distance so far and
    the constant of the round that found it; after the last round they describe the returned examples."""
    model, inputs, labels = setup()
    beta, kwargs = 1e-2, dict(search_steps=3, steps=30, learning_rate=0.05, initial_const=0.1)
    rounds = []
    both = ead_rules(model, inputs, labels, beta=beta, callback=rounds.append, **kwargs)
    plain = ead_rules(model, inputs, labels, beta=beta, **kwargs)
    assert all(torch.equal(both[rule], plain[rule]) for rule in plain)
    assert [r.search_step for r in rounds] == [0, 1, 2] and (rounds[0].const == 0.1).all()
    for before, after in zip(rounds, rounds[1:]):
        assert torch.equal(after.const < before.const, before.success)
    last = rounds[-1]
    assert set(last.best_distance) == set(last.best_const) == {"EN", "L1"}
    for rule, adv in both.items():
        delta = (adv - inputs).flatten(1)
        l1 = delta.abs().sum(1)
        distance = l1 if rule == "L1" else beta * l1 + delta.square().sum(1)
        found = torch.isfinite(last.best_distance[rule])
        assert found.any() and torch.equal(found, torch.isfinite(last.best_const[rule]))
        torch.testing.assert_close(last.best_distance[rule][found], distance[found])
        used = torch.stack([r.const for r in rounds]) == last.best_const[rule]  # one of the sample's own constants
        assert used.any(0)[found].all()
    single = []
    assert torch.equal(ead(model, inputs, labels, beta=beta, decision_rule="L1", callback=single.append, **kwargs),
                       both["L1"])
    assert [set(r.best_const) for r in single] == [{"L1"}] * 3
    torch.testing.assert_close(single[-1].best_const["L1"], last.best_const["L1"], rtol=0, atol=0, equal_nan=True)
