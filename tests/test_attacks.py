"""Properties every attack must have: batch consistency, box, zero steps, seeds, validation, no mutation."""

from __future__ import annotations

import copy
import math
from functools import lru_cache, partial

import pytest
import torch
from torch import nn

from advlab.attacks import (AttackInputError, alg1, alg1_n, alg2, anu, carlini_wagner_l2, ddn, deepfool, ead,
                            ead_rules, fgm, ifgm, mim, min_eps_search, pgd, quantize)
from advlab.linear_models import make_inputs, make_model

INF = math.inf

ATTACKS = {
    "ddn": partial(ddn, steps=20),
    "anu": partial(anu, steps=20, gamma_init=0.4, alpha_gamma=0.15),
    "cw": partial(carlini_wagner_l2, search_steps=3, steps=200, learning_rate=0.05,
                  initial_const=0.1),
    "ead": partial(ead, search_steps=3, steps=40, learning_rate=0.05, initial_const=0.1),
    "fgm-l1": partial(fgm, eps=2.0, norm=1),
    "fgm-l2": partial(fgm, eps=0.5, norm=2),
    "fgm-linf": partial(fgm, eps=0.1, norm=INF),
    "ifgm-l1": partial(ifgm, eps=2.0, norm=1, steps=5),
    "ifgm-l2": partial(ifgm, eps=0.5, norm=2, steps=5),
    "ifgm-linf": partial(ifgm, eps=0.1, norm=INF, steps=5),
    "pgd-l2": partial(pgd, eps=0.5, norm=2, steps=5, random_init=False),
    "pgd-linf": partial(pgd, eps=0.1, norm=INF, steps=5, random_init=False),
    "mim-l2": partial(mim, eps=0.5, steps=5),
    "mim-linf": partial(mim, eps=0.1, norm=INF, steps=5, step_size=0.02),
    "deepfool-l2": partial(deepfool, norm=2, steps=10),
    "deepfool-linf": partial(deepfool, norm=INF, steps=10),
    "alg1": partial(alg1, eps=0.1),
    "alg1_n": partial(alg1_n, eps=0.1, steps=3),
    "alg2": partial(alg2, eps=0.1),
    "min_eps_search": partial(min_eps_search, attack=partial(ifgm, norm=INF, steps=5), eps_max=1.0, search_steps=4),
}
UNTARGETED_ONLY = {"deepfool-l2", "deepfool-linf", "alg1", "alg1_n", "alg2"}
CASES = [(name, targeted) for name in ATTACKS for targeted in (False, True)
         if not (targeted and name in UNTARGETED_ONLY)]


def case_id(case):
    return f"{case[0]}-{'targeted' if case[1] else 'untargeted'}"


@lru_cache(maxsize=None)
def setup(shape=(4, 6), count=8, scale=10.0, targeted=False):
    """A linear model, inputs and labels (targets: the second most likely class); cached, never modified."""
    model = make_model(shape, 10, scale=scale, seed=11)
    inputs, labels = make_inputs(model, shape, count, seed=12)
    if targeted:  # the second most likely class
        with torch.no_grad():
            labels = model(inputs).topk(2).indices[:, 1]
    return model, inputs, labels


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_batch_consistency(case):
    """A sample attacked alone gives the result it gets inside a batch (per-sample state, stops and searches).

    For C&W the samples abort early at different checks (200 iterations, a check every 20), so a
    batch-wide abort would show up here.
    """
    name, targeted = case
    model, inputs, labels = setup(targeted=targeted)
    together = ATTACKS[name](model, inputs, labels, targeted=targeted)
    alone = torch.cat([ATTACKS[name](model, inputs[i:i + 1], labels[i:i + 1], targeted=targeted)
                       for i in range(len(inputs))])
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_outputs_in_box_and_inputs_untouched(case):
    """Outputs stay in [0, 1] with the input's shape and dtype, on inputs full of exact 0s and 1s; inputs unchanged."""
    name, targeted = case
    model, _, labels = setup(targeted=targeted)
    generator = torch.Generator().manual_seed(3)
    inputs = torch.randint(0, 2, (8, 4, 6), generator=generator).float()
    inputs[::2] = torch.rand(4, 4, 6, generator=generator)
    for dtype in (torch.float32, torch.float64):
        x = inputs.to(dtype)
        before, labels_before = x.clone(), labels.clone()
        adv = ATTACKS[name](model, x, labels, targeted=targeted)
        assert adv.shape == x.shape and adv.dtype == dtype
        assert adv.min() >= 0 and adv.max() <= 1
        assert torch.equal(x, before) and torch.equal(labels, labels_before)


ZERO_STEPS = {
    "ddn": partial(ddn, steps=0),
    "anu": partial(anu, steps=0, gamma_init=0.4, alpha_gamma=0.15),
    "cw (no search step)": partial(carlini_wagner_l2, search_steps=0),
    "cw (no iteration)": partial(carlini_wagner_l2, steps=0),
    "ead (no iteration)": partial(ead, steps=0),
    "ifgm": partial(ifgm, eps=0.5, norm=2, steps=0),
    "pgd": partial(pgd, eps=0.5, norm=2, steps=0, random_init=False),
    "mim": partial(mim, eps=0.5, steps=0),
    "deepfool": partial(deepfool, steps=0),
}


@pytest.mark.parametrize("name", ZERO_STEPS)
def test_zero_steps_returns_inputs(name):
    model, inputs, labels = setup()
    assert torch.equal(ZERO_STEPS[name](model, inputs, labels), inputs)


def test_quantize_is_identity_on_the_8bit_grid():
    for dtype in (torch.float32, torch.float64):
        grid = torch.arange(256, dtype=dtype) / 255
        assert torch.equal(quantize(grid, 256), grid)
        # the historical bug: 255 levels move every pixel except 0 and 1
        assert (quantize(grid, 255) != grid).sum() == 254
        values = torch.rand(1000, dtype=dtype)
        once = quantize(values, 256)
        assert torch.equal(quantize(once, 256), once) and (once - values).abs().max() <= 0.5 / 255 + 1e-7
    assert quantize(grid, None) is grid


def test_ddn_and_anu_outputs_lie_on_the_grid():
    model, inputs, labels = setup()
    for attack in (ATTACKS["ddn"], ATTACKS["anu"]):
        adv = attack(model, inputs, labels)
        assert torch.equal(quantize(adv, 256), adv)
    adv = ddn(model, inputs, labels, steps=20, levels=16)
    assert torch.equal(quantize(adv, 16), adv)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fixed_seed_gives_identical_results(case):
    name, targeted = case
    model, inputs, labels = setup(targeted=targeted)
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        results.append(ATTACKS[name](model, inputs, labels, targeted=targeted))
    assert torch.equal(*results)


def test_random_start_follows_the_generator():
    model, inputs, labels = setup()
    run = lambda seed: pgd(model, inputs, labels, eps=0.3, norm=2, steps=3,  # noqa: E731
                           generator=torch.Generator().manual_seed(seed))
    assert torch.equal(run(1), run(1)) and not torch.equal(run(1), run(2))
    torch.manual_seed(5)
    first = pgd(model, inputs, labels, eps=0.1, norm=INF, steps=0)
    torch.manual_seed(5)
    assert torch.equal(first, pgd(model, inputs, labels, eps=0.1, norm=INF, steps=0))
    assert (first - inputs).abs().max() <= 0.1 + 1e-7 and not torch.equal(first, inputs)


def bad_arguments(kind: str):
    """(model, inputs, labels, expected message) for each kind of invalid call."""
    model, inputs, labels = setup()
    if kind == "above 1":
        inputs = inputs.clone()
        inputs[0, 0, 0] = 1.5
        return model, inputs, labels, r"\[0, 1\]"
    if kind == "below 0":
        return model, inputs - 0.01 * (inputs == 0), labels, r"\[0, 1\]"
    if kind == "nan":
        inputs = inputs.clone()
        inputs[1, 2, 3] = math.nan
        return model, inputs, labels, "NaN or Inf"
    if kind == "inf":
        inputs = inputs.clone()
        inputs[1, 2, 3] = math.inf
        return model, inputs, labels, "NaN or Inf"
    if kind == "uint8":
        return model, (inputs * 255).to(torch.uint8), labels, "floating-point"
    if kind == "float labels":
        return model, inputs, labels.float(), "integer tensor"
    if kind == "batch mismatch":
        return model, inputs, labels[:5], "match"
    if kind == "label too large":
        return model, inputs, torch.full_like(labels, 10), "number of classes"
    if kind == "negative label":
        return model, inputs, torch.full_like(labels, -1), ">= 0"
    if kind == "empty batch":
        return model, inputs[:0], labels[:0], "empty"
    if kind == "training mode":
        return nn.Sequential(copy.deepcopy(model), nn.Dropout(0.5)).train(), inputs, labels, "training mode"
    raise ValueError(kind)


BAD = ["above 1", "below 0", "nan", "inf", "uint8", "float labels", "batch mismatch", "label too large",
       "negative label", "empty batch", "training mode"]


@pytest.mark.parametrize("kind", BAD)
@pytest.mark.parametrize("name", ATTACKS)
def test_bad_inputs_raise_a_clear_error(name, kind):
    model, inputs, labels, message = bad_arguments(kind)
    before = inputs.clone()
    with pytest.raises(AttackInputError, match=message):
        ATTACKS[name](model, inputs, labels)
    assert torch.equal(inputs, before) or kind == "nan"


def test_anu_without_adaptation_is_ddn():
    """ANU paper: "our algorithm degrades to DDN when α_γ is set to be zero" — exactly, bit for bit."""
    for targeted in (False, True):
        model, inputs, labels = setup(targeted=targeted)
        for levels in (256, None):
            expected = ddn(model, inputs, labels, targeted=targeted, steps=50, gamma=0.05, levels=levels)
            got = anu(model, inputs, labels, targeted=targeted, steps=50, gamma_init=0.05, alpha_gamma=0.0,
                      levels=levels)
            assert torch.equal(got, expected)
    assert not torch.equal(anu(model, inputs, labels, steps=50, gamma_init=0.05, alpha_gamma=0.1), expected)


def test_anu_gamma_bound_keeps_the_attack_working():
    """With γ₀ = 0.5 and α_γ = 0.5, Algorithm 2 would reach γ > 1 (negative norms) within two steps."""
    model, inputs, labels = setup(shape=(3, 7, 7))
    adv = anu(model, inputs, labels, steps=100, gamma_init=0.5, alpha_gamma=0.5, gamma_max=0.9)
    with torch.no_grad():
        assert (model(adv).argmax(1) != labels).all()
    assert torch.isfinite(adv).all() and ((adv - inputs).flatten(1).norm(dim=1) > 0).all()
    with pytest.raises(ValueError, match="gamma_max"):
        anu(model, inputs, labels, steps=10, gamma_init=0.5, alpha_gamma=0.1, gamma_max=1.0)


def test_ead_rules_come_from_one_run():
    """``ead_rules`` gives both decision rules from one run, identical to two separate ``ead`` runs."""
    model, inputs, labels = setup(shape=(3, 7, 7))
    kwargs = dict(beta=1e-2, search_steps=3, steps=60, learning_rate=0.05, initial_const=0.1)
    both = ead_rules(model, inputs, labels, **kwargs)
    for rule in ("EN", "L1"):
        assert torch.equal(both[rule], ead(model, inputs, labels, decision_rule=rule, **kwargs))
    l1 = {rule: (adv - inputs).flatten(1).norm(p=1, dim=1) for rule, adv in both.items()}
    elastic = {rule: 1e-2 * l1[rule] + (adv - inputs).flatten(1).pow(2).sum(1) for rule, adv in both.items()}
    assert (l1["L1"] <= l1["EN"] + 1e-6).all() and (elastic["EN"] <= elastic["L1"] + 1e-6).all()
    assert not torch.equal(both["EN"], both["L1"])


def test_cw_binary_search_searches():
    """A constant far too small fails in one round (Adam's first steps still reach the nearest samples);
    the per-sample search (×10 per failed round, then bisection) makes every sample succeed."""
    model, inputs, labels = setup()
    kwargs = dict(steps=100, learning_rate=0.05, initial_const=1e-6)
    one_round = carlini_wagner_l2(model, inputs, labels, search_steps=1, **kwargs)
    with torch.no_grad():  # attacks compute their gradients even under no_grad
        nine_rounds = carlini_wagner_l2(model, inputs, labels, search_steps=9, **kwargs)
        assert (model(one_round).argmax(1) != labels).float().mean() <= 0.25
        assert (model(nine_rounds).argmax(1) != labels).all()


def test_cw_callback_reports_each_round_and_the_constant_of_the_returned_example():
    """The per-round ``callback`` leaves the attack unchanged. Each round reports the constant it used
    (×10 after a failed round, lower after a successful one) and, per sample, the best L2 so far and
    the constant of the round that found it: after the last round, DDN Fig. 2's "best C" (NaN on failure)."""
    model, inputs, labels = setup(count=4)
    kwargs = dict(search_steps=4, steps=50, learning_rate=0.05, initial_const=0.01)
    rounds = []
    adv = carlini_wagner_l2(model, inputs, labels, callback=rounds.append, **kwargs)
    torch.testing.assert_close(adv, carlini_wagner_l2(model, inputs, labels, **kwargs), rtol=0, atol=0)
    assert [r.search_step for r in rounds] == [0, 1, 2, 3]
    assert all(set(r.best_const) == set(r.best_distance) == {"L2"} for r in rounds)
    assert (rounds[0].const == 0.01).all()
    for before, after in zip(rounds, rounds[1:]):
        assert torch.equal(after.const < before.const, before.success)
        assert (after.best_distance["L2"] <= before.best_distance["L2"]).all()
    with torch.no_grad():
        success = model(adv).argmax(1) != labels
    assert success.any() and rounds[-1].success.any()
    best_const, best_l2 = rounds[-1].best_const["L2"], rounds[-1].best_distance["L2"]
    assert torch.isnan(best_const[~success]).all() and torch.isinf(best_l2[~success]).all()
    torch.testing.assert_close(best_l2[success], (adv - inputs).flatten(1).norm(dim=1)[success])
    for sample in success.nonzero().squeeze(1).tolist():
        found = next(r for r in rounds if r.best_distance["L2"][sample] == best_l2[sample])  # the round that found it
        assert found.success[sample] and best_const[sample] == found.const[sample]
    failed = []
    carlini_wagner_l2(model, inputs, labels, callback=failed.append,
                      **{**kwargs, "search_steps": 1, "initial_const": 1e-9, "steps": 1})
    assert len(failed) == 1 and torch.isnan(failed[0].best_const["L2"]).all()


def reference_ead(model, x0, label, *, beta, const, steps, lr, rounds):
    """EAD for one sample, written from the paper (Algorithm 1, Eq. 9, §3.2–3.4) with scalar Python state."""
    lower, upper, best_en, best = 0.0, 1e10, math.inf, x0.clone()
    for _ in range(rounds):
        x = y = x0.clone()
        found = False
        for k in range(steps):
            y = y.detach().requires_grad_(True)
            logits = model(y[None])[0]
            other = torch.cat([logits[:label], logits[label + 1:]]).max()
            loss = const * torch.clamp(logits[label] - other, min=0) + ((y - x0) ** 2).sum()
            grad, = torch.autograd.grad(loss, y)
            z = y.detach() - lr * math.sqrt(1 - k / steps) * grad
            new = torch.where(z - x0 > beta, torch.clamp(z - beta, max=1),
                              torch.where(z - x0 < -beta, torch.clamp(z + beta, min=0), x0))
            y = new + k / (k + 3) * (new - x)
            x = new
            if model(x[None])[0].argmax().item() != label:
                found = True
                en = beta * (x - x0).abs().sum().item() + ((x - x0) ** 2).sum().item()
                if en < best_en:
                    best_en, best = en, x.clone()
        if found:
            upper = min(upper, const)
        else:
            lower = max(lower, const)
        const = (lower + upper) / 2 if upper < 1e9 else const * 10
    return best


def test_ead_matches_a_reference_written_from_the_paper():
    """Square-root step decay, threshold β, momentum k/(k+3), box clipping, search on c: all as in the paper."""
    model, inputs, labels = setup(count=3)
    kwargs = dict(beta=0.01, steps=30, lr=0.05, rounds=3)
    adv = ead(model, inputs, labels, beta=0.01, steps=30, learning_rate=0.05, initial_const=0.1,
              search_steps=3)
    expected = torch.stack([reference_ead(model, x, int(y), const=0.1, **kwargs) for x, y in zip(inputs, labels)])
    torch.testing.assert_close(adv, expected, rtol=0, atol=1e-6)
