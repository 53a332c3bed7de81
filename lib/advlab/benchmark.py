"""Which attack should I use? Every minimal-norm attack of the five papers, and the public implementations
of the same attacks, on the same images at the same budgets (chapter benchmark).

A *budget* is a number of gradient evaluations per sample: forward+backward passes, the unit in
which ``advlab.evaluate.run_attack`` counts (a backward pass is one gradient reaching the model's
output). ``contenders`` configures every attack for a budget the same way in every implementation:
C&W and EAD run ``search_schedule(budget)`` (binary-search rounds × iterations), DDN and ANU
``budget`` iterations, the fixed-ε attacks a per-sample bisection on ε (``advlab.attacks.min_eps_search``)
around an inner attack of ``eps_search_schedule(budget)`` steps. FGM and DeepFool run to their own
stopping rule (``budget=None``); the chapter compares them at every budget their measured count fits.

Public implementations (a benchmark-only extra, ``pip install -e '.[bench]'``): the DDN authors'
adv_lib, Foolbox 3, torchattacks and ART. A missing one is reported by ``available`` and its
contenders are left out. ``measure`` runs the contenders on one model and one set of images;
``scores`` turns the results into the chapter's table, with AttackBench's optimality against the
per-sample best of every attack run (``advlab.evaluate.optimality_of``).
"""

from __future__ import annotations

import importlib
import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from advlab.attacks import (alg1_n, anu, carlini_wagner_l2, ddn, deepfool, ead_rules, fgm, ifgm, min_eps_search,
                            pgd)
from advlab.chapter import stats
from advlab.chapter.experiments import run_on, run_rules
from advlab.chapter.samples import AttackSet
from advlab.chapter.tables import HIGH, LOW, distance_metrics, row
from advlab.evaluate import AttackResult, optimality_of
from advlab.zoo.catalog import ANU_GAMMA

THREAT_MODELS = ("l2", "l1", "linf")
THREAT_NAMES = {"l2": "L2", "l1": "L1", "linf": "L∞"}
PUBLIC = {"adv_lib": "adv_lib", "Foolbox": "foolbox", "torchattacks": "torchattacks", "ART": "art"}  # name: module
IMPLEMENTATIONS = ("advlab", *PUBLIC)
EARLY_ABORT = "advlab, early abort"  # advlab's C&W with its default per-sample early abort (compared with advlab's)
NORM_VALUES = {"l1": 1, "l2": 2, "linf": math.inf}


@dataclass(frozen=True)
class Contender:
    """One attack of one implementation, configured for one budget.

    ``run(model, inputs, labels, targeted)`` returns the adversarial inputs, or (``rules``) a dict of
    them per EAD decision rule from one run; ``norms`` are the threat models it is scored in;
    ``budget`` is the gradient budget it was configured for (None: it stops by its own rule).
    """

    attack: str
    implementation: str
    norms: tuple[str, ...]
    budget: int | None
    run: Callable
    rules: bool = False

    @property
    def key(self) -> tuple[str, str, int | None]:
        return self.attack, self.implementation, self.budget


@dataclass(frozen=True)
class Settings:
    """The hyperparameters every implementation of an attack gets (one dataset's).

    ``cw_learning_rate`` / ``cw_initial_const``: Adam's step and c₀ of C&W; ``ead_initial_const``: EAD's
    c₀ (EAD's ISTA step is 0.01, β = ``beta``); ``eps_max``: per threat model, the upper end of the
    ε bisection of the fixed-ε attacks; ``eps_search_steps``: FGM's halvings; ``classes``: the model's
    number of classes (Alg1-n's steps cost one backward pass per class, so it gets budget // classes steps).
    """

    dataset: str
    cw_learning_rate: float
    cw_initial_const: float
    ead_initial_const: float
    eps_max: dict[str, float]
    beta: float = 1e-3
    eps_search_steps: int = 10
    deepfool_steps: int = 50
    overshoot: float = 0.02
    classes: int = 10


def search_schedule(budget: int) -> tuple[int, int]:
    """C&W / EAD at a gradient budget: (binary-search rounds, iterations per round), rounds = budget // 25
    between 1 and 9 (4 × 25 at 100, the DDN paper's short C&W; 9 rounds as C&W and EAD from 225 on)."""
    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    rounds = min(9, max(1, budget // 25))
    return rounds, budget // rounds


def eps_search_schedule(budget: int) -> tuple[int, int]:
    """A fixed-ε iterative attack inside the ε bisection at a gradient budget: (steps per call, halvings),
    with one call at ε_max and the halvings after it: (halvings + 1) · steps ≤ budget (5 × 5 at 25,
    10 × 10 at 100, 100 × 10 at 1000)."""
    if budget < 2:
        raise ValueError(f"an ε search needs a budget >= 2, got {budget}")
    halvings = min(9, max(1, round(math.sqrt(budget)) - 1))
    return budget // (halvings + 1), halvings


def available() -> dict[str, str | None]:
    """Per public implementation, None if it imports, else why not (the chapter prints it)."""
    status = {}
    for name, module in PUBLIC.items():
        try:
            importlib.import_module(module)
            status[name] = None
        except Exception as error:  # noqa: BLE001 - any import failure means "not available here"
            status[name] = f"{type(error).__name__}: {error}"
    return status


def _eps_search(inner: Callable, settings: Settings, threat: str, budget: int | None, **inner_kwargs) -> Callable:
    """``min_eps_search`` by bisection on [0, ε_max of ``threat``] around ``inner`` at ``budget``."""
    if budget is None:  # FGM: one step, settings.eps_search_steps halvings
        steps, halvings = None, settings.eps_search_steps
    else:
        steps, halvings = eps_search_schedule(budget)
    extra = {} if steps is None else {"steps": steps}

    def attack(model, inputs, labels, targeted=False):
        return min_eps_search(model, inputs, labels, attack=inner, targeted=targeted, eps_max=settings.eps_max[threat],
                              search_steps=halvings, **extra, **inner_kwargs)
    return attack


def advlab_contenders(settings: Settings, budgets: list[int]) -> list[Contender]:
    """Every attack of the five papers, from advlab, at each budget (FGM and DeepFool once). C&W runs without
    its early abort (the budget is the iterations), and again with it (``EARLY_ABORT``, its default)."""
    s = settings
    out = [Contender("DeepFool", "advlab", ("l2",), None, lambda m, x, y, targeted=False: deepfool(
               m, x, y, norm=2, steps=s.deepfool_steps, overshoot=s.overshoot)),
           Contender("DeepFool", "advlab", ("linf",), None, lambda m, x, y, targeted=False: deepfool(
               m, x, y, norm=math.inf, steps=s.deepfool_steps, overshoot=s.overshoot))]
    for norm in THREAT_MODELS:
        out.append(Contender("FGM", "advlab", (norm,), None, _eps_search(fgm, s, norm, None, norm=NORM_VALUES[norm])))
    gamma = ANU_GAMMA[s.dataset]
    for budget in budgets:
        rounds, steps = search_schedule(budget)
        out += [
            Contender("DDN", "advlab", ("l2",), budget, lambda m, x, y, targeted=False, b=budget: ddn(m, x, y, steps=b)),
            Contender("ANU", "advlab", ("l2",), budget,
                      lambda m, x, y, targeted=False, b=budget: anu(m, x, y, steps=b, **gamma)),
            Contender("C&W-L2", "advlab", ("l2",), budget, lambda m, x, y, targeted=False, r=rounds, k=steps:
                      carlini_wagner_l2(m, x, y, learning_rate=s.cw_learning_rate, initial_const=s.cw_initial_const,
                                        search_steps=r, steps=k, abort_early=False)),
            Contender("C&W-L2", EARLY_ABORT, ("l2",), budget, lambda m, x, y, targeted=False, r=rounds, k=steps:
                      carlini_wagner_l2(m, x, y, learning_rate=s.cw_learning_rate, initial_const=s.cw_initial_const,
                                        search_steps=r, steps=k)),
            Contender("EAD", "advlab", ("l1", "l2"), budget, lambda m, x, y, targeted=False, r=rounds, k=steps:
                      ead_rules(m, x, y, beta=s.beta, initial_const=s.ead_initial_const, search_steps=r, steps=k),
                      rules=True),
        ]
        for norm in THREAT_MODELS:
            out.append(Contender("I-FGM", "advlab", (norm,), budget,
                                 _eps_search(ifgm, s, norm, budget, norm=NORM_VALUES[norm])))
        for norm in ("l2", "linf"):
            out.append(Contender("PGD", "advlab", (norm,), budget,
                                 _eps_search(pgd, s, norm, budget, norm=NORM_VALUES[norm], random_init=False)))
        if budget // s.classes >= 2:  # each Alg1-n step takes the gradients of all classes
            out.append(Contender("Alg1-n", "advlab", ("linf",), budget,
                                 _eps_search(alg1_n, s, "linf", budget // s.classes)))
    return out


# Public implementations. Each adapter calls the library's own attack with the settings advlab's gets, early
# abort off (the budget is the iterations); what a library does not expose is said in its docstring.

def _adv_lib(settings: Settings, budgets: list[int]) -> list[Contender]:
    """adv_lib 0.2.8 (the DDN authors' library): ``ddn``, ``carlini_wagner_l2``, ``df`` (DeepFool)."""
    from adv_lib.attacks import carlini_wagner_l2 as cw, ddn as lib_ddn, df

    s = settings
    out = [Contender("DeepFool", "adv_lib", ("l2",), None, lambda m, x, y, targeted=False: df(
        m, x, y, steps=s.deepfool_steps, overshoot=s.overshoot, norm=2))]
    for budget in budgets:
        rounds, steps = search_schedule(budget)
        out += [Contender("DDN", "adv_lib", ("l2",), budget, lambda m, x, y, targeted=False, b=budget: lib_ddn(
                    m, x, y, steps=b)),
                Contender("C&W-L2", "adv_lib", ("l2",), budget, lambda m, x, y, targeted=False, r=rounds, k=steps: cw(
                    m, x, y, learning_rate=s.cw_learning_rate, initial_const=s.cw_initial_const,
                    binary_search_steps=r, max_iterations=k, abort_early=False))]
    return out


def _foolbox(settings: Settings, budgets: list[int]) -> list[Contender]:
    """Foolbox 3.3.4: ``DDNAttack``, ``L2CarliniWagnerAttack``, ``EADAttack`` (one decision rule per run: L1,
    scored in L1; advlab's EAD is scored in L2 with its EN rule's example),
    ``L2DeepFoolAttack``, ``LinfDeepFoolAttack`` (``attack.run``, without ``__call__``'s extra check)."""
    import foolbox as fb

    s = settings

    def wrap(make_attack):
        def attack(model, inputs, labels, targeted=False):
            fmodel = fb.PyTorchModel(model, bounds=(0, 1), device=inputs.device)
            return make_attack().run(fmodel, inputs, fb.criteria.Misclassification(labels))
        return attack

    out = [Contender("DeepFool", "Foolbox", ("l2",), None, wrap(lambda: fb.attacks.L2DeepFoolAttack(
               steps=s.deepfool_steps, overshoot=s.overshoot))),
           Contender("DeepFool", "Foolbox", ("linf",), None, wrap(lambda: fb.attacks.LinfDeepFoolAttack(
               steps=s.deepfool_steps, overshoot=s.overshoot)))]
    for budget in budgets:
        rounds, steps = search_schedule(budget)
        out += [Contender("DDN", "Foolbox", ("l2",), budget, wrap(lambda b=budget: fb.attacks.DDNAttack(steps=b))),
                Contender("C&W-L2", "Foolbox", ("l2",), budget, wrap(lambda r=rounds, k=steps: fb.attacks.L2CarliniWagnerAttack(
                    binary_search_steps=r, steps=k, stepsize=s.cw_learning_rate, initial_const=s.cw_initial_const,
                    abort_early=False))),
                Contender("EAD", "Foolbox", ("l1",), budget, wrap(lambda r=rounds, k=steps: fb.attacks.EADAttack(
                    binary_search_steps=r, steps=k, initial_const=s.ead_initial_const, regularization=s.beta,
                    decision_rule="L1", abort_early=False)))]
    return out


def _torchattacks(settings: Settings, budgets: list[int]) -> list[Contender]:
    """torchattacks 3.5.1: ``CW`` (one constant c, no binary search: c = C&W's c₀, ``budget`` steps; its early
    abort cannot be turned off), ``EADL1`` and ``DeepFool``."""
    import torchattacks as ta

    s = settings

    def wrap(make_attack):
        return lambda model, inputs, labels, targeted=False: make_attack(model)(inputs, labels)

    out = [Contender("DeepFool", "torchattacks", ("l2",), None, wrap(lambda m: ta.DeepFool(
        m, steps=s.deepfool_steps, overshoot=s.overshoot)))]
    for budget in budgets:
        rounds, steps = search_schedule(budget)
        out += [Contender("C&W-L2", "torchattacks", ("l2",), budget, wrap(lambda m, b=budget: ta.CW(
                    m, c=s.cw_initial_const, steps=b, lr=s.cw_learning_rate))),
                Contender("EAD", "torchattacks", ("l1",), budget, wrap(lambda m, r=rounds, k=steps: ta.EADL1(
                    m, binary_search_steps=r, max_iterations=k, initial_const=s.ead_initial_const, beta=s.beta,
                    abort_early=False)))]
    return out


def _art(settings: Settings, budgets: list[int]) -> list[Contender]:
    """ART 1.20.1 (NumPy in, NumPy out, through ``PyTorchClassifier``): ``CarliniL2Method``, ``ElasticNet``
    (L1 rule) and ``DeepFool``, each with ``batch_size`` = the whole batch (ART's default is 1)."""
    from art.attacks.evasion import CarliniL2Method, DeepFool, ElasticNet
    from art.estimators.classification import PyTorchClassifier

    s = settings

    def wrap(make_attack):
        def attack(model, inputs, labels, targeted=False):
            classifier = PyTorchClassifier(_Called(model), loss=nn.CrossEntropyLoss(), input_shape=tuple(inputs.shape[1:]),
                                           nb_classes=s.classes, clip_values=(0.0, 1.0),
                                           device_type="gpu" if inputs.is_cuda else "cpu")
            adv = make_attack(classifier, len(inputs)).generate(x=inputs.cpu().numpy(), y=labels.cpu().numpy())
            return torch.from_numpy(adv).to(inputs)
        return attack

    out = [Contender("DeepFool", "ART", ("l2",), None, wrap(lambda c, n: DeepFool(
        c, max_iter=s.deepfool_steps, epsilon=s.overshoot, nb_grads=10, batch_size=n, verbose=False)))]
    for budget in budgets:
        rounds, steps = search_schedule(budget)
        out += [Contender("C&W-L2", "ART", ("l2",), budget, wrap(lambda c, n, r=rounds, k=steps: CarliniL2Method(
                    c, learning_rate=s.cw_learning_rate, initial_const=s.cw_initial_const, binary_search_steps=r,
                    max_iter=k, batch_size=n, verbose=False))),
                Contender("EAD", "ART", ("l1",), budget, wrap(lambda c, n, r=rounds, k=steps: ElasticNet(
                    c, binary_search_steps=r, max_iter=k, beta=s.beta, initial_const=s.ead_initial_const,
                    decision_rule="L1", batch_size=n, verbose=False)))]
    return out


class _Called(nn.Module):
    """``model`` behind one call: ART runs an ``nn.Sequential`` layer by layer, past the hooks on the model
    itself that count its forward and backward passes (``run_attack``)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


_PUBLIC_CONTENDERS = {"adv_lib": _adv_lib, "Foolbox": _foolbox, "torchattacks": _torchattacks, "ART": _art}


def contenders(settings: Settings, budgets: list[int], public_budgets: list[int] | None = None,
               implementations=IMPLEMENTATIONS) -> list[Contender]:
    """advlab's contenders at ``budgets`` and those of every available public implementation in
    ``implementations`` at ``public_budgets`` (default: ``budgets``)."""
    unknown = set(implementations) - set(IMPLEMENTATIONS)
    if unknown:
        raise ValueError(f"unknown implementations {sorted(unknown)}; choose from {IMPLEMENTATIONS}")
    out = advlab_contenders(settings, budgets) if "advlab" in implementations else []
    missing = available()
    for name in implementations:
        if name != "advlab" and missing[name] is None:
            out += _PUBLIC_CONTENDERS[name](settings, budgets if public_budgets is None else public_budgets)
    return out


def floor_seconds(model: nn.Module, inputs: Tensor, labels: Tensor, repeats: int = 5) -> float:
    """Median time of one bare forward+backward (input gradient of the summed cross-entropy) on the whole
    batch: the unit of the chapter's time column."""
    times = []
    for _ in range(repeats):
        x = inputs.detach().clone().requires_grad_(True)
        start = time.perf_counter()
        torch.autograd.grad(F.cross_entropy(model(x), labels, reduction="sum"), x)
        if x.is_cuda:
            torch.cuda.synchronize(x.device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass
class Measured:
    """The results of ``measure`` on one model: per contender key and threat model, the result whose
    distances are scored (EAD: the L1 rule's example in L1, the EN rule's in L2 for advlab)."""

    results: dict[tuple, AttackResult]
    contenders: dict[tuple, Contender]
    floor: float
    failed: dict[tuple, str]

    def scored(self, norm: str) -> dict[tuple, AttackResult]:
        return {key: result for (key, n), result in self.results.items() if n == norm}

    @property
    def seconds(self) -> float:
        """Wall time of every contender's run (a run scored in two threat models counts once)."""
        runs = {key: result.seconds for (key, _), result in self.results.items()}
        return sum(runs.values())


def measure(model: nn.Module, attacked: AttackSet, entries: list[Contender], *, progress=None) -> Measured:
    """Run every contender on ``attacked`` (one batch, paired: the same images for all) and time a bare
    forward+backward before and after. A public implementation that raises is recorded in ``failed``
    with its error (the chapter shows it) instead of stopping the run."""
    results, by_key, failed = {}, {}, {}
    device = next(model.parameters()).device
    inputs, labels = attacked.images.to(device), attacked.labels.to(device)
    floors = [floor_seconds(model, inputs, labels)]
    for entry in entries:
        if progress is not None:
            progress(entry)
        by_key[entry.key] = entry
        try:
            if entry.rules:
                per_rule = run_rules(model, attacked, entry.run, batch_size=None)
                if "l1" in entry.norms:
                    results[entry.key, "l1"] = per_rule["L1"]
                if "l2" in entry.norms:
                    results[entry.key, "l2"] = per_rule["EN"]
            else:
                result = run_on(model, attacked, entry.run, batch_size=None)
                for norm in entry.norms:
                    results[entry.key, norm] = result
        except Exception as error:  # noqa: BLE001 - a public library's failure is a finding, not a crash
            if entry.implementation == "advlab":
                raise
            failed[entry.key] = f"{type(error).__name__}: {str(error)[:200]}"
    floors.append(floor_seconds(model, inputs, labels))
    return Measured(results, by_key, statistics.mean(floors), failed)


def best_known(measured: Measured, norm: str) -> Tensor:
    """Per sample, the smallest distance in ``norm`` over every contender scored in it (+∞ if all failed)."""
    distances = [result.adversarial_distance(norm) for result in measured.scored(norm).values()]
    return torch.stack(distances).amin(0)


def optimality(distance, best) -> stats.Estimate:
    """AttackBench's optimality of per-sample ``distance`` against the per-sample ``best`` with a paired
    bootstrap interval over the images (``advlab.evaluate.optimality_of``)."""
    return stats.bootstrap(optimality_of, np.asarray(distance, dtype=np.float64), np.asarray(best, dtype=np.float64),
                           method="paired bootstrap of AttackBench's optimality")


def scores(measured: Measured, norm: str, **keys) -> pd.DataFrame:
    """One row per contender scored in ``norm`` (``keys`` first, estimates as ``m``, ``m low``, ``m high``,
    the chapter kit's names): ``success_pct``, ``median_<norm>`` (failures as +∞), ``mean_<norm>`` (over
    successes), ``optimality`` over ``images``; ``forwards`` and ``gradients`` (backward passes) per attacked image,
    ``seconds``, and ``time per gradient``: the seconds per counted backward pass in units of a bare
    forward+backward of the same batch (``Measured.floor``)."""
    best = best_known(measured, norm)
    rows = []
    for (attack, implementation, budget), result in measured.scored(norm).items():
        distance = result.adversarial_distance(norm)
        metrics = distance_metrics(distance, norm)
        metrics["optimality"] = optimality(distance.numpy(), best.numpy())
        attacked = ~result.already_adversarial
        backwards = gradients(result)
        rows.append(row(metrics, **keys, **{"threat model": THREAT_NAMES[norm]}, attack=attack,
                        implementation=implementation, budget=budget_label(budget), images=len(distance),
                        forwards=result.forwards[attacked].mean().item() if attacked.any() else math.nan,
                        gradients=backwards, seconds=result.seconds,
                        **{"time per gradient": result.seconds / measured.floor / backwards}))
    return pd.DataFrame(rows)


def budget_label(budget: int | None) -> int | str:
    """A contender's budget as the tables print it ("own stop" for FGM and DeepFool)."""
    return "own stop" if budget is None else budget


def by_model(scores_frame: pd.DataFrame, norm: str, metric: str, models: list[str]) -> pd.DataFrame:
    """One threat model's ``metric`` (with its interval columns) from a concatenation of ``scores`` with a
    ``model`` key: one row per contender, one column per model (in the order of ``models``)."""
    frame = scores_frame[scores_frame["threat model"] == THREAT_NAMES[norm]]
    index = ["attack", "implementation", "budget"]
    parts = []
    for suffix in ("", LOW, HIGH):
        if metric + suffix in frame:
            part = frame.pivot_table(index=index, columns="model", values=metric + suffix, aggfunc="first", sort=False)
            parts.append(part[[label for label in models if label in part]].add_suffix(suffix))
    table = pd.concat(parts, axis=1)
    return table[[column + suffix for column in parts[0].columns for suffix in ("", LOW, HIGH)
                  if column + suffix in table]].reset_index()


def gradients(result: AttackResult) -> float:
    """Mean backward passes per attacked image of a run (NaN if every image was already adversarial)."""
    attacked = ~result.already_adversarial
    return result.backwards[attacked].mean().item() if attacked.any() else math.nan


def fits(configured: int | None, result: AttackResult, budget: int, slack: float = 1.05) -> bool:
    """Whether a contender configured for ``configured`` (None: its own stopping rule) may compete at ``budget``:
    configured for it, or stopping by its own rule with a measured mean of backward passes within
    ``slack`` × budget."""
    return configured == budget or (configured is None and gradients(result) <= slack * budget)


def implementation_gaps(measured: Measured, norm: str, **keys) -> pd.DataFrame:
    """Each public implementation against advlab's implementation of the same attack at the same budget, on
    the same images: ``success_pct Δ`` (public − advlab, percentage points) and ``median Δ%`` (relative
    difference of the median distance over the images both fooled), paired bootstrap intervals as
    ``m low`` / ``m high``; ``time ratio`` (public / advlab) and ``verdict`` (``gap_verdict``)."""
    rows = []
    scored = measured.scored(norm)
    for (attack, implementation, budget), result in scored.items():
        reference = scored.get((attack, "advlab", budget))
        if implementation == "advlab" or reference is None:
            continue
        mine, theirs = reference.adversarial_distance(norm).numpy(), result.adversarial_distance(norm).numpy()
        success = stats.paired_difference(result.success.double().numpy(), reference.success.double().numpy())
        median = stats.relative_difference(theirs, mine, "median")
        out = row({"success_pct Δ": success.scaled(100), "median Δ%": median.scaled(100)}, **keys,
                  **{"threat model": THREAT_NAMES[norm]}, attack=attack, implementation=implementation,
                  budget=budget_label(budget), images=len(mine))
        rows.append({**out, "time ratio": result.seconds / reference.seconds, "verdict": gap_verdict(success, median)})
    return pd.DataFrame(rows)


def optimality_difference(first, second, best) -> stats.Estimate:
    """optimality(first) − optimality(second) against the same per-sample ``best``, paired bootstrap."""
    return stats.bootstrap(lambda a, b, c: optimality_of(a, c) - optimality_of(b, c),
                           *(np.asarray(v, dtype=np.float64) for v in (first, second, best)),
                           method="paired bootstrap of the difference in optimality")


def recommend(measured: dict[str, Measured], norm: str, budget: int) -> dict | None:
    """The attack to use in ``norm`` at ``budget`` over the models ``measured`` (label → ``Measured``): among
    the contenders that fit the budget (``fits``) and ran on every model, the one with the highest mean
    optimality. Returns its key fields, the runner-up, and per model (``Estimate`` s): its optimality,
    ``median / best − 1`` (its median distance against the per-image best known, images both fooled) and
    its ``lead`` in optimality over the runner-up (paired). None if nothing fits."""
    eligible = None
    for m in measured.values():
        keys = {key for key, result in m.scored(norm).items() if fits(key[2], result, budget)}
        eligible = keys if eligible is None else eligible & keys
    if not eligible:
        return None
    distances = {label: {key: m.scored(norm)[key].adversarial_distance(norm).numpy() for key in eligible}
                 for label, m in measured.items()}
    bests = {label: best_known(m, norm).numpy() for label, m in measured.items()}
    mean_optimality = {key: float(np.mean([optimality_of(distances[label][key], bests[label]) for label in measured]))
                       for key in eligible}
    ranked = sorted(eligible, key=lambda key: (-mean_optimality[key], str(key)))
    first, second = ranked[0], (ranked[1] if len(ranked) > 1 else None)
    out = {"threat model": THREAT_NAMES[norm], "budget": budget, "attack": first[0], "implementation": first[1],
           "configured for": budget_label(first[2]), "mean optimality": mean_optimality[first],
           "runner-up": None if second is None else f"{second[0]} ({second[1]}, {budget_label(second[2])})",
           "per model": {}}
    for label in measured:
        mine, best = distances[label][first], bests[label]
        out["per model"][label] = {
            "optimality": optimality(mine, best),
            "median / best − 1": stats.relative_difference(mine, best, "median"),
            "lead": None if second is None else optimality_difference(mine, distances[label][second], best)}
    return out


EQUIVALENCE = 0.05  # |relative difference| under which two implementations' median distances agree


def gap_verdict(success_gap: stats.Estimate, median_gap: stats.Estimate) -> str:
    """A public implementation against advlab's on the same images, from the intervals of the difference in
    success rate and of the relative difference of the median distance (where both succeeded): "agrees"
    when the success interval contains 0 and the median's lies within ±5 % (``EQUIVALENCE``); otherwise
    what is resolved: "more" / "fewer successes" (interval excludes 0), "same norms (±5 %)", "smaller" /
    "larger norms" (interval excludes 0 and reaches beyond ±5 %), "norms inconclusive" (neither)."""
    parts = []
    if success_gap.low > 0:
        parts.append("more successes")
    elif success_gap.high < 0:
        parts.append("fewer successes")
    if math.isnan(median_gap.value):
        parts.append("no common success")
    elif -EQUIVALENCE <= median_gap.low and median_gap.high <= EQUIVALENCE:
        if not parts:
            return "agrees"
        parts.append("same norms (±5 %)")
    elif median_gap.high < 0:
        parts.append("smaller norms")
    elif median_gap.low > 0:
        parts.append("larger norms")
    else:
        parts.append("norms inconclusive")
    return ", ".join(parts)
