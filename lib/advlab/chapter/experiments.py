"""Experiment helpers of the attack chapters: the DDN chapter explains them; ANU and EAD reuse them.

- :class:`Runs`: attack runs on an attack set, each computed once and reused by every section that
  needs it (DDN: Table 1's baseline runs serve Tables 5–6 and Fig. 2); it counts image-iterations.
- :func:`grid_search`: an attack's hyper-parameter grid on a few images, the setting with the best
  median norm kept (DDN: the C&W learning-rate × constant search of its 4×25 and 1×100 rows).
- :class:`SearchRecord`: a ``callback`` of ``carlini_wagner_l2`` / EAD that gives each image's best
  constant c (DDN Fig. 2).
- :func:`targeted_metrics`: average case and least likely (worst target) of an (images, targets) run.
- (per-image distance summaries and accuracy at ε: ``tables.distance_metrics`` / ``tables.accuracy_at``)
  (e.g. the per-image minimum over attacks, DDN Tables 5–6 "All", ``evaluate.best_distances``).
- :func:`accuracy_gap`, :func:`mean_accuracy_gap`: accuracy under a bound ε, and
  paired differences of two models on the same images (DDN Fig. 4 and claims C9–C11).
- :func:`require`, :func:`relative_part`: a claim's missing model as "not tested here"; a claim part
  that compares two attacks or models per image by the relative difference of their mean or median norm.
- :func:`relative_to`: a column relative to a reference row per group (DDN: time relative to DDN-100).
- :func:`correct`: per-image clean correctness on the first test images (paired clean accuracies).
- :class:`NormTrace`, :func:`trace_attack`: the norm of one image's iterate at every forward pass of any
  attack (DDN's idea figure).
- :func:`example_rows`: clean and adversarial images with predictions and norms for ``plots.examples_grid``.
- :func:`target_distances`, :func:`cases_from_distances`: EAD's best / average / worst case over each
  image's targets (its tables' ``best_asr`` … ``worst_linf`` columns).
- :func:`transfer_distances`: examples crafted on one model judged on another (EAD's transfer to the
  distilled net), as distances for :func:`cases_from_distances`.

Every estimate comes from :mod:`advlab.chapter.stats` with the book's intervals.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from advlab import data
from advlab.attacks._common import SearchRound
from advlab.chapter import stats
from advlab.chapter.claims import Part, Rule, Unmeasured
from advlab.chapter.samples import AttackSet, Targeted, _correct
from advlab.chapter.stats import Estimate
from advlab.evaluate import NORM_NAMES, AttackResult, run_attack, summarize

Attack = Callable[..., Tensor]


def _attack_key(attack: Attack):
    """A hashable description of an attack: equal ``functools.partial`` s (same function, same keywords)
    describe the same run, so a chapter that asks twice for ``partial(ddn, steps=300)`` runs it once."""
    if isinstance(attack, functools.partial):
        return (_attack_key(attack.func), attack.args, tuple(sorted(attack.keywords.items())))
    return attack


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


# Images per attack call, by device. On this book's 2-core CPU a forward+backward costs less per image at
# 100 than at 250 or 500 (benchmarks/bench_floor.py; DDN-50 on 300 MNIST images ran 3.8 s in one batch,
# 3.0 s in three). On a GPU an iteration costs about the same up to ~1000 images (kernel launches,
# benchmarks/results/h200/), so 1000 images run one batch's iterations, not ten.
BATCH_SIZES = {"cpu": 100, "cuda": 1000}
BY_DEVICE = "by device"  # the default batch_size: BATCH_SIZES of the model's device


def batch_size_for(device: torch.device, batch_size: int | None | str = BY_DEVICE) -> int | None:
    """``batch_size``, or the device's (``BATCH_SIZES``; a CPU's for other devices) where it is ``BY_DEVICE``."""
    return BATCH_SIZES.get(device.type, BATCH_SIZES["cpu"]) if batch_size == BY_DEVICE else batch_size


def run_on(model: nn.Module, attacked: AttackSet | Targeted, attack: Attack, *,
           batch_size: int | None | str = BY_DEVICE, box: bool = True) -> AttackResult:
    """``run_attack`` on an attack set (untargeted, its labels) or a :class:`Targeted` view (towards its
    targets), on the model's device, in batches of ``batch_size`` (None: all in one; default: the
    device's, ``BATCH_SIZES``); ``box=False`` for attacks whose output may leave [0, 1] (``clip=False``)."""
    device = _device(model)
    batch_size = batch_size_for(device, batch_size)
    if isinstance(attacked, Targeted):
        return run_attack(model, attacked.inputs.to(device), attacked.targets.to(device), attack, targeted=True,
                          batch_size=batch_size, box=box)
    return run_attack(model, attacked.images.to(device), attacked.labels.to(device), attack, batch_size=batch_size,
                      box=box)


class Runs:
    """Attack runs, each computed once: ``runs(model, attacked, attack)`` returns the stored result when
    the same model, attack set and attack (equal ``partial`` s) ran before.

    ``image_iterations`` counts the forward passes of every computed run times its attacked images
    (a budget of K iterations on N images costs about K·N), the unit of a chapter's cost estimate.
    """

    def __init__(self, batch_size: int | None | str = BY_DEVICE):
        self.batch_size = batch_size
        self._stored: dict = {}
        self.image_iterations = 0.0

    def __call__(self, model: nn.Module, attacked: AttackSet | Targeted, attack: Attack) -> AttackResult:
        key = (id(model), id(attacked), _attack_key(attack))
        if key not in self._stored:
            result = run_on(model, attacked, attack, batch_size=self.batch_size)
            self.image_iterations += result.forwards.sum().item()
            self._stored[key] = (model, attacked, result)  # the objects stay alive, so their ids stay unique
        return self._stored[key][2]

    def __len__(self) -> int:
        return len(self._stored)


def grid_search(model: nn.Module, attacked: AttackSet | Targeted, make_attack: Callable[..., Attack],
                grid: Mapping[str, Sequence], *, runs: Runs | None = None, norm: str = "l2"
                ) -> tuple[pd.DataFrame, dict]:
    """Run ``make_attack(**setting)`` for every setting of ``grid`` (all combinations of its values) and
    keep the one with the smallest median norm, then the higher success rate, then the smaller mean:
    the DDN paper's selection of C&W's learning rate and constant for its 1×100 and 4×25 rows.

    Returns the grid as a table (one row per setting: the parameters, ``success_pct``,
    ``mean_<norm>``, ``median_<norm>``) and the selected setting. Runs on ``attacked`` (typically the
    first images of the attack set: ``AttackSet.first``), through ``runs`` if given.
    """
    run = runs or Runs()
    rows = []
    for values in itertools.product(*grid.values()):
        setting = dict(zip(grid, values))
        summary = summarize(run(model, attacked, make_attack(**setting)))
        rows.append({**setting, "success_pct": 100 * summary["success_rate"],
                     f"mean_{norm}": summary[f"mean_{norm}"], f"median_{norm}": summary[f"median_{norm}"]})
    table = pd.DataFrame(rows)
    order = table.assign(mean=table[f"mean_{norm}"].fillna(math.inf)).sort_values(
        [f"median_{norm}", "success_pct", "mean"], ascending=[True, False, True], kind="stable")
    best = {key: table.loc[order.index[0], key] for key in grid}
    return table, {key: value.item() if hasattr(value, "item") else value for key, value in best.items()}


class SearchRecord:
    """A ``callback`` for ``carlini_wagner_l2`` (or EAD): keeps the last search round of every batch.

    ``best_const(result)`` gives, per sample of the ``run_attack`` result the attack ran in, the
    constant c of the round that found its returned example: "the best C found by the C&W
    algorithm" of DDN Fig. 2; NaN where the sample was not attacked (already adversarial) or no
    round succeeded. Use one record per run.
    """

    def __init__(self):
        self.rounds: list[SearchRound] = []

    def __call__(self, state: SearchRound) -> None:
        self.rounds.append(state)

    def best_const(self, result: AttackResult, criterion: str = "L2") -> Tensor:
        following = self.rounds[1:] + [None]
        last = [r for r, after in zip(self.rounds, following) if after is None or after.search_step == 0]
        out = torch.full((len(result.success),), math.nan, dtype=torch.float64)
        attacked = ~result.already_adversarial
        if last:
            values = torch.cat([r.best_const[criterion].cpu().double() for r in last])
            if len(values) != int(attacked.sum()):
                raise ValueError(f"the record holds {len(values)} samples, the result attacked {int(attacked.sum())}:"
                                 " use one SearchRecord per run")
            out[attacked] = values
        return out


def _per_image(result: AttackResult, targeted: Targeted, norm: str) -> np.ndarray:
    return targeted.per_image_view(result.adversarial_distance(norm)).double().numpy()


def targeted_metrics(result: AttackResult, targeted: Targeted, norm: str = "l2") -> dict[str, Estimate]:
    """The DDN paper's targeted columns (Tables 2–4) of a run on a :class:`Targeted` view, as percentages
    and norms with cluster-bootstrap intervals over images (n counts images):

    - ``avg_success_pct``, ``avg_mean_<norm>``: average case, over every (image, target) attack;
    - ``ll_success_pct``, ``ll_mean_<norm>``: least likely, per image its worst target (the largest
      norm over its targets, a failure if any target failed), then over images.
    """
    distance = _per_image(result, targeted, norm)
    worst = distance.max(1)
    return {"avg_success_pct": stats.rate(np.isfinite(distance)).scaled(100),
            f"avg_mean_{norm}": stats.mean(distance),
            "ll_success_pct": stats.rate(np.isfinite(worst)).scaled(100),
            f"ll_mean_{norm}": stats.mean(worst)}


def least_likely_success(result: AttackResult, targeted: Targeted, norm: str = "l2") -> np.ndarray:
    """Per image, whether every one of its targets succeeded (the least-likely success flags)."""
    return np.isfinite(_per_image(result, targeted, norm)).all(1)


def accuracy_gap(a: Tensor, b: Tensor, eps: float) -> Estimate:
    """Accuracy of model A minus model B under the bound ``eps``, as a fraction, from per-image distances
    on the same images: paired bootstrap of the robust flags (distance > ε)."""
    flags = [(torch.as_tensor(x).double() > eps).double().numpy() for x in (a, b)]
    return stats.paired_difference(*flags)


def mean_accuracy_gap(a: Tensor, b: Tensor, eps_max: float) -> Estimate:
    """A − B in the mean accuracy over ε uniform on [0, ``eps_max``] (the area under the accuracy curve
    divided by ``eps_max``), as a fraction. Per image that mean is min(distance, ε_max) / ε_max, so the
    gap is a paired bootstrap of per-image values on the same images."""
    area = [(torch.as_tensor(x).double().clamp(max=eps_max) / eps_max).numpy() for x in (a, b)]
    return stats.paired_difference(*area)


def require(models, dataset: str, *roles: str) -> None:
    """Raise :class:`~advlab.chapter.claims.Unmeasured` (the claim is "not tested here") if a model of
    ``roles`` (default: "baseline") is not loaded in ``models`` (``Chapter.models``), naming the command
    that trains it."""
    for role in (r for r in roles or ("baseline",) if (dataset, r) not in models):
        raise Unmeasured(f"model {models.name(dataset, role)} is not trained yet ({models.train_command(dataset, role)})")


def relative_part(label: str, a, b, rule: Rule, statistic: str = "mean") -> Part:
    """A claim part: stat(a) / stat(b) − 1 over the same images where both succeeded (paired bootstrap,
    ``stats.relative_difference``), printed in percent (e.g. "DDN-100 / C&W mean L2 − 1: +3.1 %")."""
    return Part(label, stats.relative_difference(a, b, statistic), rule, digits=1, scale=100, unit=" %")


def relative_to(frame: pd.DataFrame, column: str, where: Mapping[str, object], by: str, name: str) -> pd.DataFrame:
    """``frame`` with ``name`` = each row's ``column`` divided by that of the row matching ``where`` in
    the same ``by`` group, e.g. run-times relative to DDN-100 per dataset (comparable across hardware)."""
    reference = frame.loc[np.logical_and.reduce([frame[key] == value for key, value in where.items()])]
    return frame.assign(**{name: frame[column] / frame[by].map(reference.set_index(by)[column])})


def correct(model: nn.Module, dataset: str, n: int = data.TEST_SIZE) -> np.ndarray:
    """Per image of the first ``n`` test images of ``dataset``, whether ``model`` classifies it correctly
    (clean accuracy with ``stats.rate``; two models compared with ``stats.paired_difference``)."""
    images = data.first_test_images(dataset, n)
    return _correct(model, images.images, images.labels).numpy()


class NormTrace(nn.Module):
    """Wraps ``model``; at every forward pass records ‖x[0] − ``origin``‖₂ and ‖x[0] − ``origin``‖₁ of the
    first row and whether the model misclassifies it (``label``): the trajectory of any attack on one
    image, one point per forward pass (for DDN and C&W one per iteration; EAD alternates the slack
    point y_k and the iterate x_k). Lists ``norms``, ``l1_norms`` and ``adversarial``."""

    def __init__(self, model: nn.Module, origin: Tensor, label: int):
        super().__init__()
        self.model, self.origin, self.label = model, origin, label
        self.norms: list[float] = []
        self.l1_norms: list[float] = []
        self.adversarial: list[bool] = []

    def forward(self, x: Tensor) -> Tensor:
        logits = self.model(x)
        self.norms.append((x[0].detach() - self.origin).norm().item())
        self.l1_norms.append((x[0].detach() - self.origin).abs().sum().item())
        self.adversarial.append(logits[0].argmax().item() != self.label)
        return logits


def trace_attack(model: nn.Module, image: Tensor, label: int, attack: Attack) -> tuple[list[float], list[bool], float]:
    """Run ``attack`` on one ``image`` (C, H, W) through a :class:`NormTrace`: the norm and the status of
    every iterate (one per forward pass) and the norm of the example the attack returned."""
    device = _device(model)
    trace = NormTrace(model, image.to(device), int(label)).eval()
    found = attack(trace, image[None].to(device), torch.tensor([int(label)], device=device)).cpu()
    return trace.norms, trace.adversarial, (found - image[None]).norm().item()


def example_rows(shown: AttackSet, adversarial: Mapping[str, tuple[nn.Module, AttackResult]]) -> list[tuple]:
    """The rows of ``plots.examples_grid``: the clean images of ``shown`` with their labels, then per name
    the adversarial images of a run on them (``adversarial[name] = (model, result)``, the result's first
    ``len(shown)`` samples) with the model's predicted class and ‖δ‖₂ (left out where the attack
    failed) (DDN Fig. 5)."""
    classes, n = shown.dataset.classes, len(shown)
    rows = [("clean", shown.images, [classes[y] for y in shown.labels], None)]
    for name, (model, result) in adversarial.items():
        with torch.no_grad():
            predicted = model(result.adv_inputs[:n].to(_device(model))).argmax(1).cpu()
        rows.append((name, result.adv_inputs[:n], [classes[c] for c in predicted], result.adversarial_distance()[:n]))
    return rows


CASES = ("best", "avg", "worst")


def cases_from_distances(distances: Mapping[str, np.ndarray]) -> dict[str, Estimate]:
    """EAD's best, average and worst case ("Evaluation Metrics") from per-norm (images, targets) arrays of
    distances, +∞ where an attack failed; keys as the EAD tables' columns: ``best_asr``, ``best_<norm>``,
    …, ``worst_<norm>``, the ASR in percent, each mean over the successful examples.

    - best: an image succeeds if any of its targets did; each norm is, independently, the minimum over
      its successful targets (the norms may come from different targets, as in the paper's code);
    - avg: every (image, target) attack. The paper draws one random target per image with an unseeded
      generator; weighting all targets equally is the expectation over that draw: a deterministic,
      lower-variance estimate of the same quantities. Cluster bootstrap over images;
    - worst: an image succeeds only if all its targets did; each norm independently the maximum.

    Rates of best and worst have Wilson intervals (one flag per image); n counts images throughout.
    Arrays may come from any source, e.g. :func:`transfer_distances`.
    """
    if not distances:
        raise ValueError("need the distances of at least one norm")
    _check_norms(distances)
    arrays = {norm: np.asarray(d, dtype=np.float64) for norm, d in distances.items()}
    shapes = {norm: a.shape for norm, a in arrays.items()}
    if len(set(shapes.values())) != 1 or any(len(s) != 2 or 0 in s for s in shapes.values()):
        raise ValueError(f"need non-empty (images, targets) arrays of one shape, got {shapes}")
    if any(np.isnan(a).any() or (a < 0).any() for a in arrays.values()):
        raise ValueError("distances must be >= 0 (+inf for a failure), got NaN or a negative value")
    success = np.isfinite(next(iter(arrays.values())))
    if any((np.isfinite(a) != success).any() for a in arrays.values()):
        raise ValueError("the norms disagree on which attacks failed (+inf): pass the distances of one run")
    flags = {"best": success.any(1), "avg": success, "worst": success.all(1)}
    reduce = {"best": lambda a: a.min(1), "avg": lambda a: a, "worst": lambda a: a.max(1)}
    out = {}
    for case in CASES:
        out[f"{case}_asr"] = stats.rate(flags[case]).scaled(100)
        out.update({f"{case}_{norm}": stats.mean(reduce[case](a)) for norm, a in arrays.items()})
    return out


def _check_norms(norms) -> None:
    unknown = [norm for norm in norms if norm not in NORM_NAMES]
    if unknown:
        raise ValueError(f"unknown norms {unknown}; use {list(NORM_NAMES)}")


def _check_view(result: AttackResult, targeted: Targeted) -> None:
    if not result.targeted:
        raise ValueError("the result is of an untargeted run; best/average/worst cases need a targeted one")
    if len(result.success) != targeted.images * targeted.per_image:
        raise ValueError(f"the result has {len(result.success)} samples, the targeted view "
                         f"{targeted.images} images × {targeted.per_image} targets")


def by_case(frame: pd.DataFrame) -> pd.DataFrame:
    """EAD's wide case columns (``best_asr`` … ``worst_linf``, with their " low"/" high" interval columns)
    as rows: the other columns, then ``case`` (best, avg, worst) and ``asr``, ``l1``, ``l2``, ``linf``."""
    prefixes = tuple(f"{case}_" for case in CASES)
    keys = [c for c in frame.columns if not str(c).startswith(prefixes)]
    parts = []
    for case in CASES:
        columns = {c: c[len(case) + 1:] for c in frame.columns if str(c).startswith(f"{case}_")}
        parts.append(frame[keys + list(columns)].rename(columns=columns).assign(case=case))
    return pd.concat(parts, ignore_index=True)[keys + ["case"] + [c for c in parts[0].columns if c not in keys + ["case"]]]


def target_distances(result: AttackResult, targeted: Targeted, norms: Sequence[str] = ("l1", "l2", "linf")
                     ) -> dict[str, np.ndarray]:
    """Per norm, the (images, targets) distances of a run on a :class:`Targeted` view, +∞ where it failed
    (success judged by the attacked model): the input of :func:`cases_from_distances` (EAD Tables 1,
    5–12, 14; Table 13: :func:`transfer_distances`)."""
    _check_view(result, targeted)
    _check_norms(norms)
    return {norm: _per_image(result, targeted, norm) for norm in norms}


def run_rules(model: nn.Module, attacked: AttackSet | Targeted, attack: Callable[..., dict[str, Tensor]], *,
              batch_size: int | None | str = BY_DEVICE) -> dict[str, AttackResult]:
    """An attack that returns one example per decision rule (``ead_rules``: "EN" and "L1" from one run),
    run once by :func:`run_on`, as one result per rule. Every rule's result carries the run's time and
    pass counts (the rules share the iterations)."""
    outputs: list[dict[str, Tensor]] = []

    def first(model, inputs, labels, targeted):
        outputs.append(attack(model, inputs, labels, targeted=targeted))
        return next(iter(outputs[-1].values()))

    main = run_on(model, attacked, first, batch_size=batch_size)
    results = {}
    for rule in (outputs[0] if outputs else {}):
        replay = iter(outputs)
        result = run_on(model, attacked, lambda model, inputs, labels, targeted: next(replay)[rule], batch_size=batch_size)
        results[rule] = dataclasses.replace(result, forwards=main.forwards, backwards=main.backwards, seconds=main.seconds)
    return results


def transfer_distances(source: AttackResult, target_model: nn.Module, targeted: Targeted,
                       norms: Sequence[str] = ("l1", "l2", "linf"), batch_size: int | str = BY_DEVICE
                       ) -> dict[str, np.ndarray]:
    """Transfer (EAD Fig. 4, Table 13): the examples of a targeted run ``source`` judged by ``target_model``.

    An example succeeds if ``target_model``'s plain argmax is its target (as the paper evaluates, whatever
    κ crafted it); its distances to the clean image are those of ``source``. Returns, per norm, the
    (images, targets) distances with +∞ where it does not transfer, for :func:`cases_from_distances`.
    Where the source attack failed, its returned input (the clean image for EAD and C&W) is judged
    the same way; on images both models classify correctly it never transfers. Forward passes run in
    batches of ``batch_size`` on ``target_model``'s device.
    """
    _check_view(source, targeted)
    _check_norms(norms)
    transferred = _correct(target_model, source.adv_inputs, targeted.targets.cpu(),
                           batch_size_for(_device(target_model), batch_size))
    return {norm: targeted.per_image_view(torch.where(transferred, source.distances[norm].double(), math.inf)).numpy()
            for norm in norms}
