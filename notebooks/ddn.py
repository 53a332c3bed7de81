# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # DDN: decoupling direction and norm
#
# Rony et al. {cite}`rony2019ddn` find small L2 adversarial perturbations without the penalty
# constant of Carlini & Wagner's attack {cite}`carlini2017towards`: DDN takes a normalised gradient
# step, then puts the perturbation back on a sphere whose radius shrinks while the image is
# adversarial and grows while it is not. The paper claims that 100 such steps come within a few
# percent of C&W with 9 × 10 000 steps, and that adversarial training with DDN gives more robust
# models than Madry et al.'s defense {cite}`madry2018towards`.
#
# This chapter re-runs the paper's MNIST and CIFAR-10 experiments in the paper's order: untargeted
# attacks against C&W and DeepFool {cite}`moosavi2016deepfool` (Table 1), targeted attacks
# (Tables 2–4), the spread of C&W's constant (Fig. 2), the defense evaluation (Tables 5–6, Fig. 4)
# and adversarial examples (Fig. 5). ImageNet rows, and Fig. 1 (an ImageNet example), are not
# reproduced: there is no ImageNet data offline.
#
# **How to read the numbers.** Every table puts the paper's value beside the value measured here,
# printed as *value [95 % interval]* with its sample size *n*, and their relative difference. Two
# attacks, or two models, are compared **per image on the same images** (paired), and each headline
# claim DDN-C1 … C14 gets one of five verdicts by a rule written with the claim
# ({doc}`../verdicts`); the verdicts are listed under [Headline claims](#headline-claims). The
# profile the chapter ran with (printed below) sets the scale: `quick` runs on a 2-core CPU in
# minutes and shortens the most expensive budgets (each row names the budget it ran), `gpu` runs the
# paper's images and budgets on one GPU except C&W's longest (section *At the papers' scale*), `full`
# is the paper's whole scale. What differs from the paper is listed, with the numbers it affects, in
# [Departures from the paper](#departures-from-the-paper).

# %% tags=["parameters"]
profile = "quick"  # the profile that set these parameters (papermill overrides it)
results_dir = None  # where tables and figures are saved (the pipeline sets it)
recipe = "quick"  # zoo recipe of the six models (full: the paper's training schedules, GPU)
images = {"mnist": 300, "cifar10": 100}  # untargeted attack set (Tables 1, 5-6, Figs. 2, 4, 5); paper 1000
targeted_images = {"mnist": 50, "cifar10": 20}  # its first images, each towards its 9 other classes (Tables 2-3)
correctly_classified_only = True  # attack the first test images the baseline classifies correctly (paper: the first)
ddn_budgets = [100, 300, 300]  # DDN iterations run for the paper's rows DDN 100 / 300 / 1000
cw_budgets = [[4, 25], [1, 100], [2, 100]]  # [search steps, iterations] run for C&W 4x25 / 1x100 / 9x10000
cw_learning_rate = {"mnist": 0.1, "cifar10": 0.01}  # Adam step of the 9x10000 row (paper: not stated)
cw_initial_const = 1.0  # initial C of the 9x10000 row (paper: 0.01)
cw_grid_learning_rates = {"mnist": [0.1, 0.5], "cifar10": [0.01, 0.05]}  # restricted C&W rows (paper: 0.01 ... 1)
cw_grid_constants = [0.1, 1]  # initial C of the restricted C&W rows (paper: 0.001 ... 1000)
grid_images = {"mnist": 100, "cifar10": 20}  # first images of the attack set the grid is searched on
check_images = {"mnist": 10, "cifar10": 0}  # first images on which the 9x10000 row is re-run at cw_check_budget
cw_check_budget = [9, 1000]  # the longer C&W run of the convergence check (initial C 0.01, the paper's)
deepfool_steps = 100  # DeepFool iterations (the paper's budget)
clean_images = 10000  # test images of the clean accuracies compared in claim DDN-C12
example_images = 6  # test images shown per model in Fig. 5

# %% tags=["hide-input"]
from dataclasses import replace
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from advlab import chapter as ch, zoo
from advlab.attacks import carlini_wagner_l2, ddn, deepfool
from advlab.chapter import experiments as ex, plots, stats
from advlab.evaluate import best_distances
from advlab.reference import paper_figure, paper_table

ctx = ch.start("ddn", globals())
claims, runs = ch.Claims("ddn", profile), ex.Runs()  # runs: every attack runs once, later sections reuse it
NO_IMAGENET, DS = "not reproduced (no ImageNet data offline)", ch.PAPER_DATASET

# %% [markdown]
# ## The models and the data
#
# The paper attacks the C&W architectures on MNIST (99.44 % clean accuracy) and CIFAR-10 (85.51 %)
# and compares its defense with the adversarially trained models Madry et al. released. Every model
# here comes from the zoo (`advlab.zoo`) with the profile's recipe; the table lists how each was
# trained and on which data:
#
# - **Baseline**: the C&W CNN, the model of Tables 1–3 (the paper's CIFAR-10 baseline of Table 6 is a
#   Wide ResNet 28-10).
# - **Madry et al.**: a *stand-in*. MadryLab's models are L∞-trained and cannot be downloaded
#   offline; the stand-in is the same CNN trained with L2 PGD (10 steps, random start) — the L2
#   version of their defense, not their model.
# - **Ours (DDN-AT)**: the CNN adversarially trained on DDN-100 examples projected on the ε-ball
#   (ε = 2.4 on MNIST, 1.0 on CIFAR-10; Eq. 9).
#
# Which images are attacked follows one rule in every chapter: the first test images that the
# baseline classifies correctly (`ch.attack_set(..., correct_for=[baseline])`). A misclassified image
# needs no perturbation and would enter the means with norm 0; the paper attacks the first 1000
# images without saying whether it removed them. The defended models are attacked on the *same*
# images, and an image a defended model misclassifies counts as broken at norm 0.

# %%
ROLES = ("baseline", "madry", "ours")
NAMES = {"mnist": dict(zip(ROLES, ("mnist-smallcnn", "mnist-smallcnn-pgd-at", "mnist-smallcnn-ddn-at"))),
         "cifar10": dict(zip(ROLES, ("cifar10-cnn", "cifar10-cnn-pgd-at", "cifar10-cnn-ddn-at")))}
LABELS = {"baseline": "Baseline", "madry": "Madry et al. (L2 PGD-AT stand-in)", "ours": "Ours (DDN-AT)"}
models = ctx.models(NAMES, recipe, labels=LABELS)
ch.show(ctx.results.table(models.table.assign(**{"clean accuracy (paper, %)": paper_table(  # rows in the models' order
    "ddn", "text_clean_accuracy")["value"][[0, 4, 3, 1, 6, 5]].values}), "models"))
DATASETS = [ds for ds in NAMES if (ds, "baseline") in models]
DEFENDED = [ds for ds in DATASETS if all((ds, role) in models for role in ROLES)]
attack_sets = {ds: ch.attack_set(ds, max(images[ds], targeted_images[ds]),
                                 correct_for=[models[ds, "baseline"]] if correctly_classified_only else [])
               for ds in DATASETS}
UNTARGETED = {ds: attack_sets[ds].first(images[ds]) for ds in DATASETS}
TARGETED = {ds: ch.targeted(attack_sets[ds].first(targeted_images[ds])) for ds in DATASETS}
for ds, attacked in attack_sets.items():
    print(f"{DS[ds]}: {attacked.describe()}")
    ctx.source(attacked.dataset)

# %% [markdown]
# **Clean accuracy (claim DDN-C12).** The paper's DDN-trained models keep a clean accuracy at least
# as high as Madry's (99.01 vs 98.53 % on MNIST, 89.0 vs 87.3 % on CIFAR-10). Both adversarially
# trained models are compared on the same first test images, per image (on CIFAR-10, the test images
# after the first 1017 come from the offline JPEG substitute unless the official archive is present).

# %%
def defended():  # the datasets whose three models are trained, or the claim is not tested here
    if not DEFENDED:
        raise ch.Unmeasured("the adversarially trained models are not trained yet (see the models table)")
    return DEFENDED


correct = {(ds, r): ex.correct(models[ds, r], ds, clean_images) for ds in DEFENDED for r in ("ours", "madry")}


def c12():
    return [ch.Part(f"{DS[ds]}: DDN-AT − PGD-AT clean accuracy", stats.paired_difference(
        correct[ds, "ours"], correct[ds, "madry"]), ch.Threshold("at least", 0.0, qualitative=-0.01, percent="pp"),
        2, 100, " pp") for ds in defended()]


training = models.table.set_index("zoo model")["training"]
recipes = [f"{DS[ds]} {role} {stats.rate(correct[ds, r]).format(2, 100)} % ({training[NAMES[ds][r]]})"
           for ds in DEFENDED for r, role in (("ours", "DDN-AT"), ("madry", "PGD-AT"))]
claims.judge("DDN-C12", "DDN adversarial training keeps a clean accuracy at least as high as Madry's", "99.01 vs "
             "98.53 % (MNIST); 89.0 vs 87.3 % (CIFAR-10)", c12, section="The models and the data",
             caveat="the verdict reflects the training recipes: " + "; ".join(recipes))
ch.show(claims.table().tail(1)[["claim", "rule", "here", "verdict"]])

# %% [markdown]
# ### The scale of this run
#
# What the profile changes with respect to the paper (every table also names, per row, the budget
# that ran):

# %% tags=["hide-input"]
PAPER_DDN, PAPER_CW, REF, BIG = ("100", "300", "1000"), ("4x25", "1x100", "9x10000"), "9x10000", "1000"
DDN_RUN, CW_RUN = dict(zip(PAPER_DDN, ddn_budgets)), dict(zip(PAPER_CW, map(tuple, cw_budgets)))
per_dataset = lambda values: " / ".join(str(values[ds]) for ds in NAMES)  # noqa: E731
ch.show(ctx.results.table(pd.DataFrame([
    ("untargeted images, MNIST / CIFAR-10", "1000 / 1000", per_dataset(images)),
    ("targeted: images × 9 targets, MNIST / CIFAR-10", "1000 / 1000", per_dataset(targeted_images)),
    ("DDN rows 100 / 300 / 1000 run", "100 / 300 / 1000", " / ".join(map(str, ddn_budgets))),
    ("C&W rows 4×25 / 1×100 / 9×10 000 run", "4×25 / 1×100 / 9×10 000", " / ".join(f"{s}×{k}" for s, k in cw_budgets)),
    ("C&W 9×10 000: learning rate MNIST / CIFAR-10, initial C", "not stated, 0.01",
     f"{per_dataset(cw_learning_rate)}, {cw_initial_const:g}"),
    ("C&W 4×25, 1×100 grid: learning rates × initial C, on images", "0.01 … 1 × 0.001 … 1000, not stated",
     f"{per_dataset(cw_grid_learning_rates)} × {cw_grid_constants}, first {per_dataset(grid_images)}"),
    ("models (see the models table)", "the paper's (Madry: MadryLab, L∞)", f"zoo recipe {recipe!r}"),
    ("hardware", "NVIDIA GTX 1080 Ti", ctx.hardware)], columns=["quantity", "paper", "this run"]), "scale"))

# %% [markdown]
# ## The method
#
# An untargeted attack with minimal L2 norm solves (Eq. 1)
#
# $$\min_\delta \|\delta\|_2 \quad\text{s.t.}\quad \arg\max_j P(y_j \mid x+\delta,\theta) \neq y_{\text{true}},
# \qquad 0 \le x+\delta \le 1 .$$
#
# C&W replace the constraint by a penalty weighted by a constant $C$ (Eq. 5),
#
# $$\min_\delta\; \|\tilde x - x\|_2^2 + C\, \max\bigl(Z(\tilde x)_{y} - \max_{i\neq y} Z(\tilde x)_i,\, -\kappa\bigr),
# \qquad \tilde x = \tfrac12\bigl(\tanh(\operatorname{arctanh}(2x-1) + \delta) + 1\bigr),$$
#
# and must search $C$ per example (9 binary-search steps of 10 000 Adam iterations in the paper).
# DDN (Algorithm 1) drops the penalty. At iteration $k$, with $J$ the cross-entropy and $m = +1$
# untargeted ($-1$ targeted):
#
# $$g = m\,\nabla_{\tilde x_{k-1}} J(\tilde x_{k-1}, y, \theta), \qquad
# \delta_k = \delta_{k-1} + \alpha_k \frac{g}{\|g\|_2}, \qquad
# \epsilon_k = \begin{cases}(1-\gamma)\,\epsilon_{k-1} & \tilde x_{k-1}\ \text{adversarial}\\
# (1+\gamma)\,\epsilon_{k-1} & \text{otherwise}\end{cases}$$
#
# $$\tilde x_k = \operatorname{clip}_{[0,1]}\Bigl(\operatorname{quantize}\bigl(x + \epsilon_k\,
# \delta_k / \|\delta_k\|_2\bigr)\Bigr),$$
#
# with $\epsilon_0 = 1$, $\gamma = 0.05$, $\alpha_k$ cosine-annealed from 1 to 0.01, and 256-level
# quantisation; the attack returns the adversarial iterate of smallest norm. The *direction* comes
# from a normalised gradient step, so the unbounded cross-entropy never sets a step size; the
# *norm* changes by a binary decision on the prediction only. When the boundary is tangent to the
# sphere the norm alternates across it, and one increase and one decrease multiply it by
# $1-\gamma^2$: a progressively finer search. The library implements this as `advlab.attacks.ddn`
# (where the paper and the official code differ, the code decides; its docstring lists where).
#
# ### Choice of γ (Eq. 8)
#
# The smallest perturbation of an 8-bit image changes one pixel by 1/255; with rounding the norm
# must be able to fall below $1.5/255$ within $K$ steps:
# $\epsilon_0 (1-\gamma)^K < 3/510 \Rightarrow \gamma > 1 - (3/(510\,\epsilon_0))^{1/K}$.

# %%
gamma_bound = pd.DataFrame({"budget K": [20, 50, 100, 300, 1000]})
gamma_bound["γ must exceed (Eq. 8, ε₀ = 1)"] = (1 - (3 / 510) ** (1 / gamma_bound["budget K"])).round(4)
gamma_bound["γ = 0.05 reaches 1.5/255"] = (1 - 0.05) ** gamma_bound["budget K"] < 3 / 510
ch.show(ctx.results.table(gamma_bound, "eq8_gamma"))

# %% [markdown]
# With $K = 100$ the bound is $\gamma \simeq 0.05$, the paper's value; the paper keeps it for 300
# and 1000 iterations, where it is more than needed.
#
# ### The idea in one picture (the paper's Fig. 3)
#
# The paper's Fig. 3 is a schematic of one DDN step: the norm grows while the iterate is not
# adversarial and shrinks once it is. Here the same idea is measured on one MNIST test image, with
# DDN-100 and with C&W at the 9×10 000 row's settings (this profile's budget): the norm of every
# iterate, coloured by whether it is adversarial. DDN climbs until the image becomes adversarial,
# then oscillates around the boundary with a shrinking amplitude as α decays; C&W restarts from
# $\delta = 0$ in every search round on $C$ and spends many iterations on constants that turn out
# too small or too large.

# %% tags=["hide-input"]
def here(name, budget):  # the budget this profile runs for the paper's row, e.g. "C&W 3×100" for C&W 9x10000
    return {"DDN": f"DDN {DDN_RUN.get(budget)}", "DeepFool": f"DeepFool {deepfool_steps}"}.get(
        name, "C&W {}×{}".format(*CW_RUN.get(budget, (0, 0))))


def cw_attack(ds, budget, callback=None, **setting):
    setting = {"learning_rate": cw_learning_rate[ds], "initial_const": cw_initial_const, **setting}
    return partial(carlini_wagner_l2, search_steps=budget[0], steps=budget[1], callback=callback, **setting)


SELECTED, RECORDS = {}, {}  # grid-searched C&W settings per (dataset, budget); best-C records per (dataset, role)


def attack(ds, name, budget, role=None):  # the paper's row at this profile's budget; role: keep C&W's best C
    if name in ("DDN", "DeepFool"):
        return partial(ddn, steps=DDN_RUN[budget]) if name == "DDN" else partial(deepfool, steps=deepfool_steps)
    record = RECORDS.setdefault((ds, role), ex.SearchRecord()) if role and budget == REF else None
    return cw_attack(ds, CW_RUN[budget], record, **SELECTED.get((ds, budget), {}))


def run(ds, name, budget, role="baseline", targeted=False):
    return runs(models[ds, role], (TARGETED if targeted else UNTARGETED)[ds],
                attack(ds, name, budget, None if targeted else role))


def distances(ds, name, budget, role="baseline", targeted=False):  # per image (+∞: failure); targeted: (images, 9)
    d = run(ds, name, budget, role, targeted).adversarial_distance().double()
    return (TARGETED[ds].per_image_view(d) if targeted else d).numpy()


x0, y0 = UNTARGETED["mnist"].images[0], int(UNTARGETED["mnist"].labels[0])
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1, 1.4]})
for ax, name, method in zip(axes, ("DDN", "C&W"), (attack("mnist", "DDN", "100"), cw_attack("mnist", CW_RUN[REF]))):
    norms, adversarial, found = ex.trace_attack(models["mnist", "baseline"], x0, y0, method)
    plots.norm_trajectory(ax, range(len(norms)), norms, adversarial)
    ax.axhline(found, color="k", ls="--", lw=1, label="returned ‖δ‖₂")
    ax.set_title(here(name, "100" if name == "DDN" else REF))
    ax.legend(fontsize=7)
fig.suptitle(f"One MNIST test image (label {y0}) against the baseline: the idea of the paper's Fig. 3", fontsize=10)
ctx.results.figure(fig, "fig3_idea_norm_trajectory")
plt.show()

# %% [markdown]
# ## Table 1 — untargeted attacks
#
# Shared machinery: every attack runs through `advlab.evaluate.run_attack`, which counts forward
# and backward passes and times the call. *gradients* is the mean number of backward passes per
# attacked image, counted per image as the paper's #Grads are (an image leaves C&W's batch when its
# early abort stops it; DeepFool's 10 candidate-class gradients per step count 10).
# *mean_l2* is over successful attacks, *median_l2* over all attacks with failures counted as +∞.
# Run-times depend on the hardware and the number of images, so the comparable column is the time
# relative to DDN-100 on the same images (*seconds vs DDN-100*); the paper reports none for DeepFool.
#
# ### The restricted C&W grid
#
# The restricted C&W rows (4×25 and 1×100) use the learning rate and initial constant chosen per
# dataset by a grid search on the best median L2, as in the paper (its selected values are in the
# supplementary material, which we do not have). The grid runs on the first images of the attack
# set (numbers in the scale table) and the selected setting then runs on all of them. Outside the
# `gpu` and `full` profiles the grid is a corner of the paper's 5 × 7 grid, the corner that held the best cells
# when the full grid was run once on a few test images: a choice in C&W's favour, which makes the
# claims that DDN beats these rows (DDN-C2, C6) harder to pass, not easier.

# %%
grids = []
for ds, budget in ((ds, budget) for ds in DATASETS for budget in ("4x25", "1x100")):
    grid, SELECTED[ds, budget] = ex.grid_search(
        models[ds, "baseline"], UNTARGETED[ds].first(grid_images[ds]), lambda **s: cw_attack(ds, CW_RUN[budget], **s),
        {"learning_rate": cw_grid_learning_rates[ds], "initial_const": cw_grid_constants}, runs=runs)
    grids.append(grid.assign(dataset=DS[ds], budget=budget, **{"budget (here)": here("C&W", budget)}))
    print(f"{DS[ds]} {budget}: selected {SELECTED[ds, budget]}")
ch.show(ctx.results.table(pd.concat(grids), "cw_grid").pivot_table(
    index=["dataset", "budget", "learning_rate"], columns="initial_const", values="median_l2", sort=False)
    .reset_index().rename(columns=lambda c: c if isinstance(c, str) else f"median_l2 at C = {c:g}"))

# %% [markdown]
# ### Table 1 at this scale

# %% tags=["hide-input"]
T1_ROWS = [("C&W", b) for b in PAPER_CW] + [("DeepFool", "100")] + [("DDN", b) for b in PAPER_DDN]
METRICS = ["success_pct", "mean_l2", "median_l2", "gradients", "seconds vs DDN-100"]
vs_ddn100 = partial(ex.relative_to, column="seconds", where={"attack": "DDN", "budget": "100"}, by="dataset",
                    name="seconds vs DDN-100")

# %%
t1 = pd.DataFrame([ch.row(ch.attack_metrics(run(ds, name, budget)), dataset=DS[ds], attack=name, budget=budget,
                          **{"budget (here)": here(name, budget)}, n=len(UNTARGETED[ds]))
                   for ds in DATASETS for name, budget in T1_ROWS])
paper_t1 = vs_ddn100(paper_table("ddn", "T1").rename(columns={"n_grads": "gradients", "runtime_s": "seconds"}))
ch.show(ctx.results.table(ch.compare(paper_t1, vs_ddn100(t1), on=["dataset", "attack", "budget"],
                                     metrics=METRICS, extra=["budget (here)", "n", "seconds"], missing=NO_IMAGENET),
                          "table1_untargeted"))

# %% [markdown]
# On the paper's models DDN-100 comes within 5 % of C&W 9×10 000 on MNIST and is better on
# CIFAR-10, with 360–540 times fewer gradients. A profile that shortens C&W's reference compares DDN
# with a weaker C&W than the paper's; the next section measures by how much. A documented limit of
# DDN explains part of any remaining gap: DDN follows the cross-entropy gradient, which on a
# low-confidence model mixes all classes ($\sum_j p_j \nabla Z_j - \nabla Z_y$) and can settle on a
# boundary point that is not the closest. On the library's low-confidence linear test models DDN's
# mean norm is ≈ 1.27 times the exact minimum, while C&W's logit-margin loss reaches it
# (`tests/test_attacks_linear.py`). Confident CNNs like these are far less affected.
#
# ### Has the truncated C&W converged?
#
# Claims DDN-C1 and DDN-C7 compare DDN with C&W 9×10 000. When the profile runs that row with a
# smaller budget, the first images of the attack set are attacked again by a much longer C&W
# (`cw_check_budget`, from the paper's initial constant 0.01), and the two are compared per image.
# The gap is the part of DDN's measured lead (or the part of its deficit hidden) that is due to the
# truncation. A shorter C&W only finds larger norms, so DDN's ratio to it is a *lower bound* of its
# ratio to the paper's C&W: C1 and C7 (and C14, whose constant search is shortened too) are judged
# with the interval opened on that side — a truncated reference can show that such a claim fails,
# never that it holds — and carry the measured gap as a caveat.

# %%
CHECK, LONG = {}, "C&W {}×{}".format(*cw_check_budget)
for ds in (ds for ds in DATASETS if check_images[ds] and tuple(cw_check_budget) != CW_RUN[REF]):
    k, check = check_images[ds], cw_attack(ds, cw_check_budget, initial_const=0.01)
    longer = runs(models[ds, "baseline"], UNTARGETED[ds].first(k), check).adversarial_distance()
    CHECK[ds] = stats.relative_difference(distances(ds, "C&W", REF)[:k], longer)
    ddn_gap = stats.relative_difference(distances(ds, "DDN", "100")[:k], longer).format(1, 100, " %")
    print(f"{DS[ds]}, first {k} images, mean L2: {here('C&W', REF)} vs {LONG} {CHECK[ds].format(1, 100, ' %')}; "
          f"{here('DDN', '100')} vs {LONG} {ddn_gap}")


def truncation(ds):
    gap = (f"on the first {CHECK[ds].n} images it is {CHECK[ds].format(1, 100, ' %')} above {LONG} in mean L2"
           if ds in CHECK else "its gap to a longer run was not measured")
    return f"{DS[ds]}: C&W 9×10 000 runs as {here('C&W', REF)}; {gap}" if CW_RUN[REF] != (9, 10000) else ""

# %% [markdown]
# ### Claims DDN-C1 to C3
#
# DDN-C1 is a bound: DDN-100's mean L2 at most 5 % above C&W's, on the images where both succeed.
# DDN-C3's gradient ratio can only be measured when the C&W reference runs at least 100 times
# DDN-100's budget; a shorter reference leaves it not tested here.

# %%
CW_SHORT = CW_RUN[REF] != (9, 10000)  # a shorter C&W finds larger norms: DDN's ratio to it is a lower bound


def c1():
    return [replace(ex.relative_part("MNIST: DDN-100 / C&W 9×10 000 mean L2 − 1", distances("mnist", "DDN", "100"),
                                     distances("mnist", "C&W", REF), ch.Threshold("at most", 0.05, qualitative=0.10,
                                                                                  percent=True)),
                    bound="lower" if CW_SHORT else None)]


def c3():
    if np.prod(CW_RUN[REF]) < 100 * DDN_RUN["100"]:
        raise ch.Unmeasured(f"the C&W reference runs {here('C&W', REF)} here, so its gradients cannot reach 100× "
                            f"{here('DDN', '100')}'s (the full profile measures the ratio)")
    pairs = [(ds, run(ds, "C&W", REF), run(ds, "DDN", "100")) for ds in DATASETS]
    return [ch.Part(f"{DS[ds]}: C&W / DDN-100 {key}", value, ch.Threshold("at least", 100, qualitative=10), digits=0)
            for ds, cw_run, ddn_run in pairs for key, value in (
                ("gradients", stats.ratio(cw_run.backwards, ddn_run.backwards)),
                ("seconds", stats.exact(cw_run.seconds / ddn_run.seconds)))]


T1_SECTION, COLUMNS = "Table 1 — untargeted attacks", ["claim", "rule", "here", "verdict", "caveat"]
claims.judge("DDN-C1", "MNIST untargeted: DDN-100's mean L2 is within 5 % of C&W 9×10 000's, with 100 instead of "
             "54 007 gradients", "1.4563 vs 1.3961 (+4.3 %); 100 vs 54 007 gradients", c1, section=T1_SECTION,
             caveat=truncation("mnist"))
claims.judge("DDN-C3", "DDN-100 needs ~100× fewer gradients than C&W 9×10 000, and proportionally less time",
             "540× / 360× / 213× gradients, 571× / 382× / 215× time (MNIST / CIFAR-10 / ImageNet)", c3,
             section=T1_SECTION, caveat="judged on MNIST and CIFAR-10; ImageNet " + NO_IMAGENET)
ch.show(claims.table().tail(2)[COLUMNS])

# %% [markdown]
# ## Tables 2–4 — targeted attacks
#
# Each image is attacked towards each of its 9 other classes (C&W's protocol; `ch.targeted`).
# *Average case*: over all attacks; *least likely*: per image its worst target (the largest norm over
# its 9 targets, a failure if any target failed), then over images. Intervals resample whole images
# (an image's 9 attacks are not independent) and *n* counts images. The restricted C&W rows reuse
# the learning rate and C selected by the untargeted grid search.

# %%
TABLE = {"mnist": "T2", "cifar10": "T3"}
TARGETED_METRICS = ["avg_success_pct", "avg_mean_l2", "ll_success_pct", "ll_mean_l2"]
for ds in DATASETS:
    rows = pd.DataFrame([ch.row(ex.targeted_metrics(run(ds, name, budget, targeted=True), TARGETED[ds]),
                                attack=f"{name} {budget}", **{"budget (here)": here(name, budget)},
                                n=TARGETED[ds].images) for name, budget in T1_ROWS if name != "DeepFool"])
    ch.show(ctx.results.table(ch.compare(paper_table("ddn", TABLE[ds]), rows, on=["attack"], metrics=TARGETED_METRICS,
                                         extra=["budget (here)", "n"]), f"table{TABLE[ds][1]}_targeted_{ds}"),
            caption=f"Table {TABLE[ds][1]} ({DS[ds]}): {TARGETED[ds].images} images × 9 targets (paper: 1000 × 9)")
ch.show(ctx.results.table(ch.compare(paper_table("ddn", "T4"), pd.DataFrame(columns=["attack", *TARGETED_METRICS]),
                                     on=["attack"], metrics=TARGETED_METRICS, missing=NO_IMAGENET),
                          "table4_targeted_imagenet"), caption="Table 4 (ImageNet): quoted from the paper")

# %% [markdown]
# ### Claims DDN-C2, C6 and C7
#
# DDN-C2 compares DDN-100 with the restricted C&W rows per image (untargeted, and average-case
# targeted): a lower mean L2 (paired, on the images where both succeed) and a success rate at most
# 1 point lower ("equal or higher", with that margin). DDN-C6's least-likely success of DDN-100 is
# a bound of 99.5 %; C&W's drop is the paired difference of least-likely success flags. DDN-C7's
# "within 2.5 %" is an equivalence margin.

# %%
def paper_gap(table_id, ds, metric, a, b):  # the paper's a / b − 1 (rates: a − b, a fraction) of one metric
    frame = paper_table("ddn", table_id)
    frame = frame[frame["dataset"] == DS[ds]].assign(attack=frame["attack"] + " " + frame["budget"]) \
        if table_id == "T1" else frame
    value = frame.set_index("attack")[metric]
    return (value[a] - value[b]) / 100 if metric.endswith("pct") else value[a] / value[b] - 1


def c2():
    parts = []
    for ds, targeted, b in ((ds, t, b) for ds in DATASETS for t in (False, True) for b in ("1x100", "4x25")):
        ddn100, cw_d = distances(ds, "DDN", "100", targeted=targeted), distances(ds, "C&W", b, targeted=targeted)
        gap = paper_gap(*((TABLE[ds], ds, "avg_mean_l2") if targeted else ("T1", ds, "mean_l2")), "DDN 100", f"C&W {b}")
        label = f"{DS[ds]} {'targeted' if targeted else 'untargeted'}: DDN-100 vs C&W {b}"
        parts += [ex.relative_part(f"{label}, mean L2", ddn100, cw_d, ch.Effect("below", claimed=gap)),
                  ch.Part(f"{label}, success", stats.paired_difference(np.isfinite(ddn100), np.isfinite(cw_d)),
                          ch.Threshold("at least", -0.01, percent="pp"), digits=1, scale=100, unit=" pp")]
    return parts


def c6():
    parts = []
    for ds in DATASETS:
        ll = {b: ex.least_likely_success(run(ds, name, b, targeted=True), TARGETED[ds])
              for name, b in (("DDN", "100"), ("C&W", "4x25"), ("C&W", "1x100"))}
        parts.append(ch.Part(f"{DS[ds]}: DDN-100 least-likely success", stats.rate(ll["100"]),
                             ch.Threshold("at least", 0.995, percent=True), digits=1, scale=100, unit=" %"))
        parts += [ch.Part(f"{DS[ds]}: DDN-100 − C&W {b} least-likely success",
                          stats.paired_difference(ll["100"], ll[b]), ch.Effect("above", percent="pp", claimed=paper_gap(
                              TABLE[ds], ds, "ll_success_pct", "DDN 100", f"C&W {b}")), 1, 100, " pp")
                  for b in ("4x25", "1x100")]
    return parts


def c7():  # a shorter C&W makes the ratio a lower bound, a shorter DDN an upper bound
    bound = {(True, True): "both", (True, False): "lower", (False, True): "upper"}.get((CW_SHORT, DDN_RUN[BIG] != 1000))
    return [replace(ex.relative_part(f"{DS[ds]}: DDN-1000 / C&W 9×10 000 average-case mean L2 − 1",
                                     distances(ds, "DDN", BIG, targeted=True), distances(ds, "C&W", REF, targeted=True),
                                     ch.Equivalent(0.025)), bound=bound) for ds in DATASETS]


T2_SECTION, IMAGENET_CAVEAT = "Tables 2–4 — targeted attacks", "judged on MNIST and CIFAR-10; ImageNet " + NO_IMAGENET
SHORT_DDN = [f"DDN 1000 runs as {here('DDN', BIG)}"] if DDN_RUN[BIG] != 1000 else []
claims.judge("DDN-C2", "At 100 gradients DDN-100 has a lower mean L2 than C&W 1×100 and 4×25 (untargeted and "
             "average-case targeted), with equal or higher success", "every MNIST/CIFAR-10 cell (e.g. MNIST "
             "untargeted 1.4563 vs 1.5917 / 1.7382)", c2, section=T2_SECTION, caveat=IMAGENET_CAVEAT)
claims.judge("DDN-C6", "Targeted, least likely: C&W restricted to 100 iterations loses success, DDN-100 stays ≥ 99.5 %",
             "C&W 4×25 / 1×100: MNIST 69.9 / 31.7 %, CIFAR-10 98.7 / 95.8 %; DDN-100 100 %", c6, section=T2_SECTION,
             caveat=IMAGENET_CAVEAT)
claims.judge("DDN-C7", "Targeted MNIST and CIFAR-10: DDN-1000's average-case mean L2 is within 2.5 % of C&W 9×10 000's",
             "1.9511 vs 1.9481; 0.2867 vs 0.2798", c7, section=T2_SECTION,
             caveat="; ".join(filter(None, [truncation(ds) for ds in DATASETS] + SHORT_DDN)))
ch.show(claims.table().tail(3)[COLUMNS])

# %% [markdown]
# ## Fig. 2 — the best C&W constant
#
# The motivation for DDN: the best constant $C$ of C&W's penalty differs by orders of magnitude
# between examples (from $2^{-11}$ to $2^5$ on the paper's MNIST model) and is larger on
# adversarially trained models, so it must be searched per example. The histogram shows, per
# attacked image, the constant of the search round that produced C&W's returned example (the
# attack's `callback`, `ex.SearchRecord`), from the runs of the 9×10 000 row on each model (Table 1's
# run on the baseline; the same runs serve Tables 5–6). The search multiplies C by 10 until an
# attack succeeds and then bisects, so the values sit on a few levels, the fewer the shorter the
# search. The paper shows MNIST only; CIFAR-10 is shown as well.

# %%
# the runs of the 9x10000 row: Table 1's on the baseline, on the other models the first of Tables 5–6
CONSTANTS = {key: RECORDS[key].best_const(result).numpy() for key, result in (
    ((ds, role), run(ds, "C&W", REF, role)) for ds in DATASETS for role in ROLES if (ds, role) in models)}
fig, axes = plt.subplots(1, len(DATASETS), figsize=(5.5 * len(DATASETS), 3.6), squeeze=False)
for ax, ds in zip(axes[0], DATASETS):
    for role, found in ((r, c[np.isfinite(c)]) for (d, r), c in CONSTANTS.items() if d == ds):
        ax.hist(np.log2(found), bins=np.arange(-14, 12) + 0.5, histtype="step", lw=1.8,
                label=f"{LABELS[role]} ({len(found)} images)")
    ax.set(xlim=(-14, 10), xlabel="log₂(best C)", ylabel="# examples", title=f"{DS[ds]}: {here('C&W', REF)}")
    ax.legend(fontsize=8)
ctx.results.figure(fig, "fig2_cw_best_constant")
plt.show()
constants = pd.DataFrame([{"dataset": DS[ds], "model": NAMES[ds][role], "best_C": c}
                          for (ds, role), values in CONSTANTS.items() for c in values.tolist()])
ch.show(ctx.results.table(constants, "fig2_cw_best_constant").dropna().groupby(["dataset", "model"], sort=False)[
    "best_C"].describe(percentiles=[0.05, 0.5, 0.95]).reset_index())

# %% [markdown]
# DDN-C14's spread is measured as the orders of magnitude between the 5th and 95th percentiles of
# the baseline's best C (bootstrap over images); "larger on the adversarially trained model" is the
# paired relative difference of the two models' median best C on the images both attacks broke.

# %%
def c14():
    ex.require(models, "mnist", "baseline", "ours")
    base, ours = CONSTANTS["mnist", "baseline"], CONSTANTS["mnist", "ours"]
    spread = stats.bootstrap(lambda c: np.log10(np.quantile(c, 0.95, axis=-1) / np.quantile(c, 0.05, axis=-1)),
                             base[np.isfinite(base)], method="bootstrap of log10(q95 / q05)")
    return [ch.Part("MNIST baseline: orders of magnitude spanned by best C (5–95 %)", spread,  # a short search
                    ch.Threshold("at least", 2, qualitative=1), digits=2, bound="lower" if CW_SHORT else None),
            ex.relative_part("MNIST DDN-AT / baseline median best C − 1", ours, base, ch.Effect("above"), "median")]


claims.judge("DDN-C14", "The best C&W constant on MNIST spans several orders of magnitude and is larger on the "
             "adversarially trained model", "2^-11 to 2^5 (4.8 orders); higher on the adversarially trained model",
             c14, section="Fig. 2 — the best C&W constant", caveat=f"the search runs {CW_RUN[REF][0]} rounds from "
             f"C = {cw_initial_const:g} here (paper: 9 from 0.01), which bounds the spread it can show")
ch.show(claims.table().tail(1)[COLUMNS])

# %% [markdown]
# ## Tables 5–6 — defense evaluation
#
# Each model is attacked untargeted by C&W 9×10 000, DeepFool 100 and DDN 1000 (this profile's
# budgets); *All* keeps, per image, the smallest perturbation of the three
# (`advlab.evaluate.best_distances`). The last column is the model's accuracy when the attacker's
# norm is bounded by ε (1.5 on MNIST, 0.5 on CIFAR-10): the share of images with no adversarial
# example within ε (Wilson interval). The paper's Table 6 models are Wide ResNets; ours are the C&W CNN.

# %%
DEFENSE_ROWS = [("C&W", REF), ("DeepFool", "100"), ("DDN", BIG)]
DISTANCES, PAPER_DEFENSE = {}, {"mnist": "T5", "cifar10": "T6"}  # (dataset, role) -> {attack: per-image distances}
for ds in DEFENDED:
    paper, rows = paper_table("ddn", PAPER_DEFENSE[ds]), []
    for role, defense in zip(ROLES, paper["defense"].unique()):
        by_attack = {f"{name} {budget}": run(ds, name, budget, role) for name, budget in DEFENSE_ROWS}
        DISTANCES[ds, role] = {key: result.adversarial_distance() for key, result in by_attack.items()}
        DISTANCES[ds, role]["All"] = best_distances(list(by_attack.values()))
        rows += [ch.row(ch.tables.distance_metrics(d, eps=zoo.ROBUST_EPS[ds]), defense=defense, attack=key, **{
            "model (here)": NAMES[ds][role], "budget (here)": here(*key.split()) if key != "All" else "minimum"},
            n=len(d)) for key, d in DISTANCES[ds, role].items()]
    ch.show(ctx.results.table(ch.compare(paper, pd.DataFrame(rows), on=["defense", "attack"], metrics=[
        "success_pct", "mean_l2", "median_l2", "acc_at_eps_pct"], extra=["model (here)", "budget (here)", "n"]),
        f"table{PAPER_DEFENSE[ds][1]}_defense_{ds}"), caption=f"Table {PAPER_DEFENSE[ds][1]} ({DS[ds]}, accuracy at "
            f"ε ≤ {zoo.ROBUST_EPS[ds]})")

# %% [markdown]
# DDN-C13 compares, per image, the norm the DDN-trained model needs with the norm the other two
# need, under C&W, DDN and All: the paired relative difference of means and medians (images where
# both attacks succeeded), against the paper's relative difference.

# %%
def c13():
    parts = []
    for ds in defended():
        paper = paper_table("ddn", PAPER_DEFENSE[ds])
        paper = paper.set_index([paper["defense"].map(dict(zip(paper["defense"].unique(), ROLES))), "attack"])
        for key, other, stat in ((k, o, s) for k in (f"C&W {REF}", f"DDN {BIG}", "All") for o in ("madry", "baseline")
                                 for s in ("mean", "median")):
            claimed = paper.loc[("ours", key), f"{stat}_l2"] / paper.loc[(other, key), f"{stat}_l2"] - 1
            parts.append(ex.relative_part(f"{DS[ds]} {key}: DDN-AT / {LABELS[other].split(' (')[0]} {stat} L2 − 1",
                                       DISTANCES[ds, "ours"][key].numpy(), DISTANCES[ds, other][key].numpy(),
                                       ch.Effect("above", claimed=claimed), stat))
    return parts


STAND_IN = ("models: the Madry et al. row is an L2 PGD-AT stand-in and both defenses are short fine-tunings of the "
            "quick baseline (see the models table); the verdict judges these trained models")
claims.judge("DDN-C13", "Under C&W, DDN and All, the DDN-trained model needs larger mean and median L2 than Madry's "
             "and the baseline (both datasets)", "MNIST All mean 2.4497 vs 1.6917 vs 1.3778; CIFAR-10 0.8597 vs "
             "0.6601 vs 0.1282", c13, section="Tables 5–6 — defense evaluation",
             caveat="; ".join(filter(None, [STAND_IN] + [truncation(ds) for ds in DEFENDED])))
ch.show(claims.table().tail(1)[COLUMNS])

# %% [markdown]
# ## Fig. 4 — accuracy against the bound ε
#
# The curves are the accuracy under *All* as the allowed norm grows, with their 95 % bands; the
# crosses are the points the paper states in its text, and the table below puts those points side
# by side.

# %%
POINTS, EPS_MAX = pd.DataFrame(paper_figure("ddn", "Fig4")["points_stated_in_text"]), {"mnist": 4.0, "cifar10": 2.5}
fig, axes = plt.subplots(1, max(1, len(DEFENDED)), figsize=(5.5 * max(1, len(DEFENDED)), 3.8), squeeze=False)
curves, stated = [pd.DataFrame(columns=["dataset", "model", "eps", "accuracy_pct"])], []
for ax, ds in zip(axes[0], DEFENDED):
    points = POINTS[POINTS["dataset"] == DS[ds]]
    for role, color in zip(ROLES, ("tab:blue", "tab:orange", "tab:green")):
        curve = plots.accuracy_curve(DISTANCES[ds, role]["All"], np.linspace(0, EPS_MAX[ds], 101))
        plots.accuracy_vs_eps(ax, curve, f"here: {NAMES[ds][role]}", color=color)
        ax.scatter(points["eps"], points[role], marker="x", color=color, label="paper: " + LABELS[role].split(" (")[0])
        curves.append(curve.assign(dataset=DS[ds], model=NAMES[ds][role]))
        stated += [ch.row({"accuracy_pct": ch.tables.accuracy_at(DISTANCES[ds, role]["All"], eps)}, dataset=DS[ds], eps=eps,
                          model=LABELS[role], n=len(UNTARGETED[ds])) for eps in points["eps"]]
    ax.set_title(f"{DS[ds]} ({len(UNTARGETED[ds])} images)")
    ax.legend(fontsize=7)
ctx.results.figure(fig, "fig4_accuracy_vs_eps")
plt.show()
curves = ctx.results.table(pd.concat(curves), "fig4_accuracy_vs_eps")
paper_points = POINTS.melt(id_vars=["dataset", "eps"], var_name="model", value_name="accuracy_pct").replace(LABELS)
ch.show(ctx.results.table(ch.compare(paper_points, pd.DataFrame(stated, columns=[
    "dataset", "eps", "model", "n", "accuracy_pct", "accuracy_pct low", "accuracy_pct high"]),
    on=["dataset", "eps", "model"], metrics=["accuracy_pct"], extra=["n"], missing="not reproduced (models missing)"),
    "fig4_stated_points"))

# %% [markdown]
# DDN-C9 and C10 compare the two defenses per image at the paper's points: the paired difference of
# "no adversarial example within ε" flags under All, DDN-AT minus PGD-AT, in percentage points.
# DDN-C11 ("above for all ε") is judged on the mean accuracy over ε from 0 to the figure's end (the
# area under the curve, per image min(distance, ε_max)/ε_max, paired); the caveat counts the ε at
# which the DDN-AT curve lies below.

# %%
def defense_parts(ds):
    ex.require(models, ds, *ROLES)
    return [ch.Part(f"{DS[ds]}: DDN-AT − PGD-AT accuracy at ε = {p.eps:g}",
                    ex.accuracy_gap(DISTANCES[ds, "ours"]["All"], DISTANCES[ds, "madry"]["All"], p.eps),
                    ch.Effect("above", percent="pp", claimed=(p.ours - p.madry) / 100), digits=1, scale=100, unit=" pp")
            for p in POINTS[POINTS["dataset"] == DS[ds]].itertuples()]


def c11():
    return [ch.Part(f"{DS[ds]}: DDN-AT − PGD-AT mean accuracy over ε ∈ [0, {EPS_MAX[ds]:g}]", ex.mean_accuracy_gap(
        DISTANCES[ds, "ours"]["All"], DISTANCES[ds, "madry"]["All"], EPS_MAX[ds]), ch.Effect("above", percent="pp"), 1, 100, " pp")
            for ds in defended()]


def below(ds):
    frame = curves[curves["dataset"] == DS[ds]].pivot(index="eps", columns="model", values="accuracy_pct")
    lower = frame[NAMES[ds]["ours"]] < frame[NAMES[ds]["madry"]]
    return f"{DS[ds]}: the DDN-AT curve lies below PGD-AT's at {lower.sum()} of the figure's {len(lower)} ε"


F4_SECTION = "Fig. 4 — accuracy against the bound ε"
claims.judge("DDN-C9", "MNIST: accuracy under the three attacks at ε ≤ 1.5 and 2.0 is higher for the DDN-trained model "
             "than for Madry's", "ε 1.5: 87.2 vs 67.3 % (baseline 40.8 %); ε 2.0: 74.8 vs 38.6 %",
             lambda: defense_parts("mnist"), section=F4_SECTION, caveat=STAND_IN)
claims.judge("DDN-C10", "CIFAR-10: accuracy at ε ≤ 0.5 and 1.0 is higher for the DDN-trained model than for Madry's",
             "ε 0.5: 67.6 vs 56.1 %; ε 1.0: 39.9 vs 24.4 %", lambda: defense_parts("cifar10"), section=F4_SECTION,
             caveat=STAND_IN)
claims.judge("DDN-C11", "The DDN-trained model's accuracy curve lies above Madry's for all ε (Fig. 4, both datasets)",
             "above everywhere on MNIST (ε 0–4) and CIFAR-10 (ε 0–2.5)", c11, section=F4_SECTION,
             caveat="; ".join([below(ds) for ds in DEFENDED] + [STAND_IN]))
ch.show(claims.table().tail(3)[COLUMNS])

# %% [markdown]
# ## Fig. 5 — adversarial examples
#
# DDN adversarial examples (the DDN 1000 row's run) against the three models: top left the norm
# ‖δ‖₂, bottom right the predicted class. On the paper's models the perturbations against the
# baseline leave the digit recognisable, while some against the DDN-trained model turn it into
# another digit.

# %%
for ds in DEFENDED:
    shown = UNTARGETED[ds].first(min(example_images, len(UNTARGETED[ds])))
    fig = plots.examples_grid(ex.example_rows(shown, {LABELS[role].split(" (")[0]: (
        models[ds, role], run(ds, "DDN", BIG, role)) for role in ROLES}),
        f"{DS[ds]}: {here('DDN', BIG)} examples (top left ‖δ‖₂, bottom right the prediction)")
    ctx.results.figure(fig, f"fig5_examples_{ds}")
    plt.show()

# %% [markdown]
# ## Fig. 1 — not reproduced
#
# The paper's Fig. 1 shows one targeted adversarial example on ImageNet (Inception v3, ‖δ‖₂ = 0.7).
# There is no ImageNet data offline; Fig. 5 shows MNIST and CIFAR-10 examples instead.
#
# ## Headline claims
#
# Every claim of the paper, with the verdict computed in the section named beside it. Claims about
# ImageNet only (DDN-C4, C5, C8) are listed as not tested here; claims that mix ImageNet with
# MNIST and CIFAR-10 (C2, C3, C6) are judged on their MNIST and CIFAR-10 parts, as their caveat
# says.

# %%
for cid, statement, paper in [
        ("DDN-C4", "ImageNet: DDN-100 attacks 1000 images in < 10 min vs > 35 h for C&W, with a lower mean L2",
         "593.6 s vs 127 755.6 s; 0.3831 vs 0.4692"),
        ("DDN-C5", "ImageNet untargeted: DDN reaches 100 % success with 300 iterations", "99.6 % (100), 100 % (300)"),
        ("DDN-C8", "Targeted ImageNet: DDN-100's least-likely mean L2 is below C&W's reported 9×10 000 value",
         "1.7074 vs 2.22")]:
    claims.not_tested(cid, statement, paper, "no ImageNet data offline", section=T1_SECTION)
claims.rows.sort(key=lambda r: int(r["claim"].split("C")[-1]))
ch.show(claims.table()[["claim", "statement", "paper", "rule", "here", "n", "verdict", "caveat", "samples_to_resolve"]])

# %% [markdown]
# ## Departures from the paper
#
# - **Scale.** The scale table lists the images and budgets of this run; a verdict judges the claim
#   at that scale, and an inconclusive verdict says how many images would resolve it.
# - **Models.** Short CPU recipes (models table); CNNs where the paper's CIFAR-10 defense models are
#   Wide ResNets; an L2 PGD-AT stand-in for Madry et al.'s L∞-trained models. Claims DDN-C9 … C13
#   judge these trained models, each from one training seed, and say so in their caveat.
# - **Data.** MNIST is the official set; CIFAR-10 comes from the source printed beside the attacked
#   images (the models are trained on the offline JPEG substitute unless the official archive is
#   present).
# - **Which images.** The first test images the baseline classifies correctly (when
#   `correctly_classified_only`); the paper's means may include misclassified images at norm 0
#   (about 14 % of its CIFAR-10 images at 85.5 % accuracy), which lowers its means.
# - **Implementation choices** where the paper is silent: DDN follows the official code (ε capped at
#   the box, evaluation of the iterate before each step, clean input returned on failure); C&W aborts
#   early per image rather than per batch; DeepFool uses 10 candidate classes and overshoot 0.02
#   (Foolbox's defaults; the paper's run, whose overshoot is not stated, succeeded on only 75.4 % of
#   the MNIST images, so DeepFool's success rates and norms compare only loosely).
#
# What this run changed, next to the numbers it affects:

# %% tags=["hide-input"]
changed = [f"{truncation(ds)} — Table 1's and Tables 5–6's C&W rows, Fig. 2 and claims DDN-C1, C7, C13, C14 carry it"
           for ds in DATASETS if truncation(ds)]
changed += [f"The DDN rows 100 / 300 / 1000 run {' / '.join(map(str, ddn_budgets))} iterations: the DDN 1000 rows of "
            "Tables 1–3, 5–6, Figs. 4–5, claims DDN-C7, C9–C13 rest on that budget"] * (ddn_budgets != [100, 300, 1000])
changed += [f"C&W 9×10 000 starts its search at C = {cw_initial_const:g} (paper: 0.01), so that its {CW_RUN[REF][0]} "
            "rounds reach the useful range: Fig. 2's constants and claim DDN-C14"] * (cw_initial_const != 0.01)
changed.append(f"The restricted C&W grid ({per_dataset(cw_grid_learning_rates)} × {cw_grid_constants}) ran on the "
               f"first {per_dataset(grid_images)} images: the 4×25 and 1×100 rows of Tables 1–3, claims DDN-C2, C6")
changed.append(f"Image-iterations run (forward passes × images): {runs.image_iterations:,.0f} in {len(runs)} attack "
               f"runs; the chapter took {ctx.seconds() / 60:.1f} min on {ctx.hardware}")
display(Markdown("\n".join(f"- {line}" for line in changed)))
ctx.finish(claims);


# %% [markdown]
# ## At the papers' scale
#
# Every table above ends its caption with the profile and the hardware of this build. Runs of this
# chapter at the profiles kept in the repository (`gpu`: the papers' attack scale on the same zoo
# models, made on a GPU) follow as they were saved: where they ran, the parameters in which they
# differ from this build and their verdicts (the same rules, on more images), then every table and
# figure (folded below the code: *Show output*).

# %%
ch.scale.show_committed(ctx)

# %% tags=["hide-output"]
ch.scale.show_committed_results(ctx)


# %% [markdown]
# ## Exercises
#
# Assignments `norm-update` (q1) and `minimal-norm-attack` ({doc}`../coursework`) grade the first two
# automatically.
#
# :::{exercise}
# :label: ddn-ex-norm-update
#
# Write DDN's norm update (Algorithm 1, lines 7-10) as a batched function `norm_update(eps, adversarial,
# gamma, worst_norm)`, with the official code's cap. Check it against `advlab.attacks.ddn.norm_update`
# on a batch where the cap binds for some images and in both branches.
# :::
#
# :::{solution} ddn-ex-norm-update
# :class: dropdown
#
# `torch.minimum(torch.where(adversarial, eps * (1 - gamma), eps * (1 + gamma)), worst_norm)`. The cap
# only binds for an image that stays non-adversarial long enough for ε to outgrow ‖max(x, 1 − x)‖₂, so a
# test on a random batch with a large `worst_norm` cannot tell a version without the cap from the right
# one: give some images a `worst_norm` just above ε.
# :::
#
# :::{exercise}
# :label: ddn-ex-oscillation
#
# Near the end of an attack the iterate often alternates between adversarial and not adversarial. By
# what factor does ε change over one such pair of steps with γ = 0.05, and over 50 pairs?
# :::
#
# :::{solution} ddn-ex-oscillation
# :class: dropdown
#
# (1 − γ)(1 + γ) = 1 − γ² = 0.9975 per pair, so 0.9975⁵⁰ ≈ 0.882 over 50 pairs: the alternation is a
# search that refines ε by about 12 % over 100 steps, and the best adversarial iterate is kept throughout.
# :::
#
# :::{exercise}
# :label: ddn-ex-whole-attack
#
# Write a complete untargeted L2 minimal-norm attack (any method, at most two model evaluations per step)
# and measure its mean norm ratio to the exact optimum on the linear models of `advlab.linear_models`
# (`ratios`). DDN-100 reaches about 1.01 there; can you reach 1.05?
# :::
#
# :::{solution} ddn-ex-whole-attack
# :class: dropdown
#
# A DDN loop written with per-image tensors and `torch.where` (direction step, norm update, projection on
# the ε-sphere, clipping, best adversarial kept per image) reaches it; `advlab.coursework.linear_model_ratios`
# is the grader's measurement. A single large gradient step fools every image but at about 13 times the
# optimal norm.
# :::
