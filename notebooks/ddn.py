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
# This chapter re-runs every MNIST and CIFAR-10 experiment of the paper, in the paper's order: the
# untargeted comparison with C&W and DeepFool {cite}`moosavi2016deepfool` (Table 1), targeted
# attacks (Tables 2–4), the spread of C&W's constant (Fig. 2), the defense evaluation (Tables 5–6,
# Fig. 4) and adversarial examples (Fig. 5). Every table shows the paper's value, the value
# measured here and their relative difference; every headline claim gets a verdict computed from
# these numbers at the end. ImageNet rows are quoted: there is no ImageNet data offline.
#
# The numbers depend on the *profile* the chapter ran with (printed below). The `quick` profile
# runs everything in under ten minutes on a 2-core CPU, so it attacks a handful of images and
# truncates C&W's 9 × 10 000 iterations; the `full` profile (`advlab run ddn --profile full`)
# uses the paper's scale and is meant for a GPU.

# %% tags=["parameters"]
profile = "quick"  # the profile that set these parameters (papermill overrides it)
results_dir = None  # where tables and figures are saved (the pipeline sets it)
recipe = "quick"  # zoo recipe of the six models (full: the paper's training schedules, GPU)
mnist_images = 16  # first MNIST test images attacked untargeted (Table 1, Tables 5-6, Figs. 2, 4, 5); paper 1000
cifar10_images = 5  # first CIFAR-10 test images attacked untargeted; paper 1000
targeted_mnist_images = 3  # MNIST test images attacked towards each of their 9 other classes (Table 2); paper 1000
targeted_cifar10_images = 2  # the same for CIFAR-10 (Table 3); paper 1000
correctly_classified_only = True  # attack the first images the baseline classifies correctly (paper: the first ones)
ddn_budgets = [100, 300, 1000]  # DDN iterations run for the paper's rows DDN 100 / 300 / 1000
cw_budgets = [[4, 25], [1, 100], [9, 100]]  # [search steps, iterations] run for C&W 4x25 / 1x100 / 9x10000
cw_learning_rate = {"mnist": 0.1, "cifar10": 0.01}  # Adam step of the 9x10000 row per dataset (paper: unstated)
cw_initial_const = 0.01  # initial constant of the 9x10000 row (the paper's value)
cw_grid_learning_rates = {"mnist": [0.1, 0.5], "cifar10": [0.01, 0.05]}  # restricted C&W rows (paper: 0.01 ... 1)
cw_grid_constants = [0.1, 1, 10]  # grid of C for the restricted C&W rows (paper: 0.001 ... 1000)
deepfool_steps = 100  # DeepFool iterations (the paper's budget)
example_images = 6  # test images shown per model in Fig. 5

# %%
import math
import time
from dataclasses import replace
from functools import partial

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

import advlab
from advlab import data, zoo
from advlab.attacks import carlini_wagner_l2, ddn, deepfool
from advlab.evaluate import best_distances, robust_accuracy, run_attack, summarize
from advlab.report import Claim, compare, paper_figure, paper_table, verdict
from advlab.results import Results, results_dir as default_results_dir

results = Results(results_dir or default_results_dir("ddn", profile))
chapter_start = time.perf_counter()
torch.manual_seed(0)
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # attacks run where the model is; results come back on the CPU
HARDWARE = torch.cuda.get_device_name() if DEVICE == "cuda" else f"CPU, {torch.get_num_threads()} threads"
print(f"advlab {advlab.__version__}, torch {torch.__version__}, {HARDWARE}, profile {profile!r}")


def show(frame, precision=4):
    """Display a table: percentages, Δ% and seconds with 1 decimal, norms with ``precision``, counts as integers."""
    formats = {}
    for column in frame.columns:
        name = str(column)
        if not pd.api.types.is_float_dtype(frame[column]):
            continue
        if "Δ%" in name or "pct" in name or "accuracy" in name or "runtime" in name:
            formats[column] = "{:.1f}"
        elif "n_grads" in name:
            formats[column] = "{:.0f}"
        elif "time_vs" in name:
            formats[column] = "{:.2f}"
        elif name in ("eps", "learning rate"):
            formats[column] = "{:g}"
        else:
            formats[column] = f"{{:.{precision}f}}"
    display(frame.style.hide(axis="index").format(formats, na_rep="–"))


# %% [markdown]
# ## The models and the data
#
# The paper attacks the C&W architectures on MNIST (99.44 % clean accuracy) and CIFAR-10
# (85.51 %), and evaluates its defense against the adversarially trained models that Madry et al.
# released. Here every model comes from the zoo (`advlab.zoo`), with the recipe named by the
# profile:
#
# - **Baseline**: the C&W CNN on each dataset (also the model of Tables 1–3; the paper's CIFAR-10
#   baseline of Table 6 is a Wide ResNet 28-10, which only the `full` zoo recipe can train).
# - **Madry et al.**: *stand-in*. MadryLab's public models are L∞-trained (ε = 0.3 on MNIST,
#   8/255 on CIFAR-10) and cannot be downloaded offline, so we use the same C&W CNN trained with
#   L2 PGD (ε = 2.0 on MNIST, 0.5 on CIFAR-10, 10 steps, random start) — the L2 version of their
#   defense, not their model.
# - **Ours (DDN-trained)**: the C&W CNN adversarially trained with DDN-100 perturbations projected
#   on the ε-ball (ε = 2.4 MNIST, 1.0 CIFAR-10; Eq. 9 — adversarial examples only).
#
# The `quick` recipes fine-tune the clean quick model for one (DDN) or three (PGD) epochs on a few
# thousand training images (the table lists each recipe): they can show the direction of the
# paper's results, not its accuracies — the quick CIFAR-10 models in particular are far less
# accurate than the paper's. The `full` recipes train 50 epochs from scratch, on a GPU.
# CIFAR-10 models are trained on the offline substitute of CIFAR-10 (a lossy JPEG re-encoding)
# unless the official archive is present; the attacked test images are printed with their source.

# %%
DATASETS = ("mnist", "cifar10")
PAPER_DATASET = {"mnist": "MNIST", "cifar10": "CIFAR-10"}
ROLES = ("baseline", "madry", "ours")
MODEL_NAMES = {
    "mnist": {"baseline": "mnist-smallcnn", "madry": "mnist-smallcnn-pgd-at", "ours": "mnist-smallcnn-ddn-at"},
    "cifar10": {"baseline": "cifar10-cnn", "madry": "cifar10-cnn-pgd-at", "ours": "cifar10-cnn-ddn-at"},
}
ROLE_LABEL = {"baseline": "Baseline", "madry": "Madry et al. (L2 PGD-AT stand-in)", "ours": "Ours (DDN-AT)"}
DEFENSE_EPS = {"mnist": 1.5, "cifar10": 0.5}  # the bound of Tables 5-6
IMAGES = {"mnist": mnist_images, "cifar10": cifar10_images}
TARGETED_IMAGES = {"mnist": targeted_mnist_images, "cifar10": targeted_cifar10_images}

zoo_status = zoo.table().query("recipe == @recipe").set_index("model")
missing = []


def model_ready(dataset, role):
    """True if the zoo has the model; otherwise say how to train it (sections print this and skip)."""
    name = MODEL_NAMES[dataset][role]
    if zoo_status.loc[name, "status"] == "ok":
        return True
    if name not in missing:
        missing.append(name)
    print(f"model {name} (recipe {recipe!r}) not trained yet: advlab zoo train {name} --recipe {recipe}")
    return False


MODELS = {(ds, role): zoo.load(MODEL_NAMES[ds][role], recipe, device=DEVICE) for ds in DATASETS for role in ROLES
          if zoo_status.loc[MODEL_NAMES[ds][role], "status"] == "ok"}


def attacked_test_images(ds):
    """The first test images, or the first ones the baseline classifies correctly (``correctly_classified_only``)."""
    needed = max(IMAGES[ds], TARGETED_IMAGES[ds], 1)
    if not (correctly_classified_only and (ds, "baseline") in MODELS):
        return data.first_test_images(ds, needed), list(range(needed))
    pool = data.first_test_images(ds, min(data.TEST_SIZE, max(100, 3 * needed)))
    with torch.no_grad():
        predicted = torch.cat([MODELS[ds, "baseline"](pool.images[i:i + 500].to(DEVICE)).argmax(1).cpu()
                               for i in range(0, len(pool), 500)])
    index = (predicted == pool.labels).nonzero().squeeze(1)[:needed]
    return replace(pool, images=pool.images[index], labels=pool.labels[index]), index.tolist()


TEST, TEST_INDEX = {}, {}
for ds in DATASETS:
    TEST[ds], TEST_INDEX[ds] = attacked_test_images(ds)
    index = TEST_INDEX[ds]
    indices = (f"{index[0]}–{index[-1]}" if index == list(range(index[0], index[-1] + 1)) and len(index) > 2
               else ", ".join(map(str, index[:12])) + (", …" if len(index) > 12 else ""))
    which = ("the first test images the baseline classifies correctly"
             if correctly_classified_only and (ds, "baseline") in MODELS else "the first test images")
    print(f"{PAPER_DATASET[ds]}: {len(index)} images, {which} (indices {indices}); source: {TEST[ds].source}")

clean_paper = paper_table("ddn", "text_clean_accuracy")
PAPER_CLEAN = {  # the paper's model (clean accuracy stated in its text) behind each role
    ("mnist", "baseline"): "Base classifier (C&W architecture)",
    ("cifar10", "baseline"): "Base classifier (C&W architecture)",
    ("mnist", "madry"): "Madry et al.", ("cifar10", "madry"): "Madry et al. WRN 34-10",
    ("mnist", "ours"): "DDN-trained (C&W architecture)", ("cifar10", "ours"): "DDN-trained WRN 28-10",
}
model_rows = []
for ds in DATASETS:
    for role in ROLES:
        name = MODEL_NAMES[ds][role]
        row = zoo_status.loc[name]
        paper_value = clean_paper.loc[(clean_paper["model"] == PAPER_CLEAN[ds, role])
                                      & (clean_paper["dataset"] == PAPER_DATASET[ds]), "value"]
        model_rows.append({"dataset": PAPER_DATASET[ds], "model": ROLE_LABEL[role], "zoo model": name,
                           "training": row["training"], "trained on": row["dataset"], "status": row["status"],
                           "clean accuracy (paper)": paper_value.iloc[0] if len(paper_value) else math.nan,
                           "clean accuracy (here)": row["test accuracy (%)"]})
models_table = pd.DataFrame(model_rows)
ours_clean, paper_clean = models_table["clean accuracy (here)"], models_table["clean accuracy (paper)"]
models_table["clean accuracy Δ%"] = (100 * (ours_clean - paper_clean) / paper_clean).round(1)
show(results.table(models_table, "models"), precision=2)
for ds in DATASETS:
    for role in ROLES:
        model_ready(ds, role)

# %% [markdown]
# ### The scale of this run
#
# Every row of the tables below names the budget that actually ran next to the paper's. What the
# profile changes with respect to the paper:

# %%
PAPER_DDN = ("100", "300", "1000")
PAPER_CW = ("4x25", "1x100", "9x10000")
assert len(ddn_budgets) == 3 and len(cw_budgets) == 3, \
    "one budget per paper row (DDN 100/300/1000, C&W 4x25/1x100/9x10000)"
DDN_RUN = dict(zip(PAPER_DDN, ddn_budgets))
CW_RUN = dict(zip(PAPER_CW, map(tuple, cw_budgets)))
CW_REF = "9x10000"
BIG_DDN = "1000"  # the DDN row of Tables 5-6
scale = pd.DataFrame([
    ("which test images", "the first ones", "the first ones the baseline classifies correctly"
     if correctly_classified_only else "the first ones"),
    ("MNIST / CIFAR-10 images, untargeted", "1000 / 1000", f"{mnist_images} / {cifar10_images}"),
    ("MNIST / CIFAR-10 images × 9 targets, targeted", "1000 / 1000",
     f"{targeted_mnist_images} / {targeted_cifar10_images}"),
    ("DDN budgets", "100, 300, 1000", ", ".join(map(str, ddn_budgets))),
    ("C&W budgets (search steps × iterations)", "4×25, 1×100, 9×10 000",
     ", ".join(f"{s}×{i}" for s, i in cw_budgets)),
    ("C&W 9×10 000: learning rate (MNIST / CIFAR-10)", "not stated (C&W's default: 0.01)",
     f"{cw_learning_rate['mnist']} / {cw_learning_rate['cifar10']}"),
    ("C&W 9×10 000: initial C", "0.01", str(cw_initial_const)),
    ("C&W 4×25, 1×100: grid of learning rates (MNIST / CIFAR-10)", "0.01, 0.05, 0.1, 0.5, 1",
     " / ".join(", ".join(map(str, cw_grid_learning_rates[ds])) for ds in DATASETS)),
    ("C&W 4×25, 1×100: grid of C", "0.001, 0.01, …, 1000", ", ".join(map(str, cw_grid_constants))),
    ("DeepFool iterations", "100", str(deepfool_steps)),
    ("models", "paper's (Madry: MadryLab, L∞)", f"zoo recipe {recipe!r} (Madry: L2 PGD-AT stand-in)"),
    ("hardware", "GTX 1080 Ti", HARDWARE),
], columns=["quantity", "paper", "this run"])
show(results.table(scale, "scale"))

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
# $1-\gamma^2$: a progressively finer search. The library implements this as
# `advlab.attacks.ddn` (choices where the paper and its code differ are in its docstring).
#
# **Choice of γ (Eq. 8).** The smallest perturbation of an 8-bit image changes one pixel by
# 1/255; with rounding the norm must be able to fall below $1.5/255$ within $K$ steps:
# $\epsilon_0 (1-\gamma)^K < 3/510 \Rightarrow \gamma > 1 - (3/(510\,\epsilon_0))^{1/K}$.

# %%
gamma_bound = pd.DataFrame({"budget K": [20, 50, 100, 300, 1000]})
gamma_bound["γ must exceed (Eq. 8, ε₀ = 1)"] = (1 - (3 / 510) ** (1 / gamma_bound["budget K"])).round(4)
gamma_bound["γ = 0.05 reaches 1.5/255"] = (1 - 0.05) ** gamma_bound["budget K"] < 3 / 510
show(results.table(gamma_bound, "eq8_gamma"))

# %% [markdown]
# With $K = 100$ the bound is $\gamma \simeq 0.05$, the paper's value; the paper keeps it for 300
# and 1000 iterations, where it is more than needed.
#
# **The idea in one picture.** Below, one MNIST test image is attacked by DDN and by C&W (the
# 9×10 000 row's settings at this profile's budget). DDN's norm (the callback of
# `advlab.attacks.ddn` reports each iterate) climbs until the image becomes adversarial, then
# oscillates around the boundary with shrinking amplitude as α decays. C&W restarts from
# $\delta = 0$ in every search round on $C$ and spends most of its iterations on constants that
# turn out too small or too large.

# %%
class NormTrace(torch.nn.Module):
    """Wraps a model; records, at every forward pass, ‖x̃ − x‖₂ of the first row and whether it is misclassified."""

    def __init__(self, model, origin, label):
        super().__init__()
        self.model, self.origin, self.label = model, origin, label
        self.norms, self.adversarial = [], []

    def forward(self, x):
        logits = self.model(x)
        self.norms.append((x[0].detach() - self.origin).norm().item())
        self.adversarial.append(logits[0].argmax().item() != self.label)
        return logits


if model_ready("mnist", "baseline"):
    model = MODELS["mnist", "baseline"]
    x0, y0 = TEST["mnist"].images[:1].to(DEVICE), TEST["mnist"].labels[:1].to(DEVICE)
    ddn_log = []
    adv_ddn = ddn(model, x0, y0, steps=ddn_budgets[0], callback=ddn_log.append)
    ddn_trace = pd.DataFrame({"k": [s.step for s in ddn_log], "norm": [s.norm.item() for s in ddn_log],
                              "adversarial": [s.adversarial.item() for s in ddn_log],
                              "eps": [s.eps.item() for s in ddn_log]})
    cw_steps, cw_iterations = CW_RUN[CW_REF]
    trace = NormTrace(model, x0[0], y0.item()).eval()
    adv_cw = carlini_wagner_l2(trace, x0, y0, binary_search_steps=cw_steps, max_iterations=cw_iterations,
                               learning_rate=cw_learning_rate["mnist"], initial_const=cw_initial_const)
    cw_trace = pd.DataFrame({"k": range(len(trace.norms)), "norm": trace.norms, "adversarial": trace.adversarial})

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [1, 1.4]})
    for ax, frame, title, final in ((axes[0], ddn_trace, f"DDN, {ddn_budgets[0]} iterations", adv_ddn),
                                    (axes[1], cw_trace, f"C&W, {cw_steps}×{cw_iterations}", adv_cw)):
        ax.plot(frame["k"], frame["norm"], color="0.7", lw=0.8, zorder=1)
        for flag, color, label in ((False, "tab:blue", "iterate not adversarial"),
                                   (True, "tab:red", "iterate adversarial")):
            part = frame[frame["adversarial"] == flag]
            ax.scatter(part["k"], part["norm"], s=6, color=color, label=label, zorder=2, rasterized=True)
        with torch.no_grad():
            found = model(final).argmax(1).item() != y0.item()
        norm = (final - x0).norm().item()
        label = f"returned: ‖δ‖₂ = {norm:.3f}" if found else "no adversarial iterate (clean input returned)"
        ax.axhline(norm, color="k", ls="--", lw=1, label=label)
        ax.set_xlabel("iteration (= gradient computations)")
        ax.set_ylabel("‖x̃ₖ − x‖₂ (L2, pixels in [0, 1])")
        ax.set_title(title)
    axes[0].plot(ddn_trace["k"] + 1, ddn_trace["eps"], color="tab:green", lw=0.8, ls=":",
                 label="εₖ: radius the iterate is projected on")
    # every round restarts from w = 0, i.e. exactly the first iterate (the same float computation)
    restarts = cw_trace.index[(cw_trace["norm"] == cw_trace["norm"].iloc[0]) & (cw_trace["k"] > 0)]
    for i, k in enumerate(restarts):
        axes[1].axvline(k, color="tab:purple", lw=0.6, ls=":", label="new search round on C" if i == 0 else None)
    for ax in axes:
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"One MNIST test image (label {y0.item()}) against the baseline model", fontsize=10)
    fig.tight_layout()
    results.figure(fig, "fig_idea_norm_trajectory")
    plt.show()

# %% [markdown]
# ## Attack evaluation
#
# Which images: the paper attacks "the first 1000 images of the test set" without saying whether
# misclassified ones were removed; its code would give them norm 0. With
# `correctly_classified_only` (the `quick` and `smoke` profiles) the chapter attacks the first test
# images the *baseline* classifies correctly instead: with a handful of images, and a quick CIFAR-10
# model far less accurate than the paper's, zero norms would otherwise dominate the means. The
# `full` profile follows the paper.
#
# Shared machinery: every attack runs through `advlab.evaluate.run_attack`, which skips inputs the
# model already misclassifies (they count as successes at distance 0, as in the paper's code),
# counts forward and backward passes and times the call. "#Grads" is the mean number of backward
# passes per attacked image, counted as in the paper for batch execution: a C&W round continues
# until every image in the batch has aborted, and DeepFool's 10 candidate-class gradients per
# step count 10. Mean L2 is over successful attacks; the median is over all attacks with failures
# counted as +∞, which equals the paper's "worst case" convention whenever fewer than half fail.

# %%
def cw(budget, learning_rate, const, record=None):
    """C&W L2 with ``budget`` = (search steps, iterations); ``record`` collects each call's best constants (Fig. 2)."""
    steps, iterations = budget
    if record is None:
        return partial(carlini_wagner_l2, binary_search_steps=steps, max_iterations=iterations,
                       learning_rate=learning_rate, initial_const=const)

    def attack(model, inputs, labels, targeted=False):
        adv, best_const = carlini_wagner_l2(model, inputs, labels, targeted=targeted, binary_search_steps=steps,
                                            max_iterations=iterations, learning_rate=learning_rate,
                                            initial_const=const, return_best_const=True)
        record.append(best_const)
        return adv
    return attack


def metrics(result):
    """The paper's columns for one attack result; #Grads averages over the attacked (not misclassified) images."""
    s = summarize(result)
    attacked = ~result.already_adversarial
    return {"success_pct": 100 * s["success_rate"], "mean_l2": s["mean_l2"], "median_l2": s["median_l2"],
            "n_grads": result.backwards[attacked].mean().item() if attacked.any() else math.nan,
            "runtime_s": s["seconds"]}


def budget_text(attack, paper_budget):
    """The budget run for a paper row, e.g. "9×100" for C&W 9x10000."""
    if attack == "DDN":
        return str(DDN_RUN[paper_budget])
    if attack == "C&W":
        return "{}×{}".format(*CW_RUN[paper_budget])
    return str(deepfool_steps)


def attacked_images(ds):
    """The first test images of the untargeted experiments, on the attack device."""
    return TEST[ds].images[:IMAGES[ds]].to(DEVICE), TEST[ds].labels[:IMAGES[ds]].to(DEVICE)


UNTARGETED = {}   # (dataset, role) -> {(attack, paper budget): AttackResult}
CONSTANTS = {}    # (dataset, role) -> best C&W constant per image (NaN: not attacked or failed)
CW_SELECTED = {}  # (dataset, paper budget) -> (learning rate, C) chosen by the grid search


def attack_untargeted(ds, role, rows):
    """Run the attacks ``rows`` (attack, paper budget) that this model has not run yet."""
    done = UNTARGETED.setdefault((ds, role), {})
    model, images, labels = MODELS[ds, role], *attacked_images(ds)
    for attack, budget in rows:
        if (attack, budget) in done:
            continue
        if attack == "DDN":
            done[attack, budget] = run_attack(model, images, labels, partial(ddn, steps=DDN_RUN[budget]))
        elif attack == "DeepFool":
            done[attack, budget] = run_attack(model, images, labels, partial(deepfool, steps=deepfool_steps))
        else:  # the reference C&W, keeping the constants for Fig. 2
            record = []
            result = run_attack(model, images, labels,
                                cw(CW_RUN[budget], cw_learning_rate[ds], cw_initial_const, record))
            constants = torch.full((len(labels),), math.nan, dtype=torch.float64)
            if record:
                constants[~result.already_adversarial] = torch.cat(record).double()
            CONSTANTS[ds, role], done[attack, budget] = constants, result
    return done


# %% [markdown]
# ### Table 1 — untargeted attacks
#
# The restricted C&W rows (4×25 and 1×100) use a learning rate and a constant chosen per dataset
# by a grid search with the best median L2, as in the paper (its selected values are in the
# supplementary material, which we do not have). The search runs on the attacked images and the
# row reports the selected setting, so it costs one attack per grid point; its full grid is
# saved as `cw_grid_<dataset>.csv`. The `quick` profile searches a 2 × 3 corner of the paper's
# 5 × 7 grid per dataset: the corner that held the best cells of the full grid when we ran it
# once on 8 MNIST and 6 CIFAR-10 images (MNIST: learning rate 0.1–0.5 and C = 1; CIFAR-10: 0.01
# and C = 0.1–1; smaller steps suit CIFAR-10, whose minimal perturbations are ten times smaller).
#
# The paper's DeepFool run-times are not reported (Foolbox, one image at a time on CPU). Because
# run-times depend on the hardware and the number of images, the comparable column is the run-time
# relative to DDN-100 on the same data.

# %%
def grid_search(ds):
    """C&W 4x25 and 1x100 on the baseline over the learning-rate x C grid; keep the best median L2 per budget."""
    model, (images, labels) = MODELS[ds, "baseline"], attacked_images(ds)
    rows = []
    for budget in ("4x25", "1x100"):
        best = None
        for lr in cw_grid_learning_rates[ds]:
            for const in cw_grid_constants:
                result = run_attack(model, images, labels, cw(CW_RUN[budget], lr, const))
                m = metrics(result)
                rows.append({"budget (paper)": budget, "budget (here)": budget_text("C&W", budget),
                             "learning rate": lr, "C": const, **m})
                key = (m["median_l2"], -m["success_pct"], np.nan_to_num(m["mean_l2"], nan=math.inf))
                if best is None or key < best[0]:
                    best = (key, result, (lr, const))
        UNTARGETED[ds, "baseline"]["C&W", budget] = best[1]
        CW_SELECTED[ds, budget] = best[2]
    return pd.DataFrame(rows)


T1_ROWS = [("C&W", b) for b in PAPER_CW] + [("DeepFool", "100")] + [("DDN", b) for b in PAPER_DDN]
t1_rows = []
for ds in DATASETS:
    if not model_ready(ds, "baseline"):
        continue
    UNTARGETED.setdefault((ds, "baseline"), {})
    grid = results.table(grid_search(ds), f"cw_grid_{ds}")
    print(f"{PAPER_DATASET[ds]}: median L2 of the restricted C&W grid (∞: half the attacks or more failed)")
    show(grid.pivot_table(index=["budget (paper)", "learning rate"], columns="C", values="median_l2",
                          sort=False).reset_index().rename(columns=lambda c: c if isinstance(c, str) else f"C = {c:g}"))
    attack_untargeted(ds, "baseline", T1_ROWS)
    for attack, budget in T1_ROWS:
        t1_rows.append({"dataset": PAPER_DATASET[ds], "attack": attack, "budget": budget,
                        "budget (here)": budget_text(attack, budget),
                        **metrics(UNTARGETED[ds, "baseline"][attack, budget])})
    print(f"{PAPER_DATASET[ds]}: grid-searched C&W (learning rate, C): "
          + ", ".join(f"{b}: {CW_SELECTED[ds, b]}" for b in ("4x25", "1x100")))

t1_here = pd.DataFrame(t1_rows, columns=["dataset", "attack", "budget", "budget (here)", "success_pct", "mean_l2",
                                         "median_l2", "n_grads", "runtime_s"])
t1_paper = paper_table("ddn", "T1")
for frame in (t1_paper, t1_here):  # run-time relative to DDN-100 on the same dataset: hardware-independent
    ddn100 = frame.query("attack == 'DDN' and budget == '100'").set_index("dataset")["runtime_s"]
    frame["time_vs_ddn100"] = (frame["runtime_s"] / frame["dataset"].map(ddn100)).round(2)
table1 = compare(t1_paper, t1_here, on=["dataset", "attack", "budget"],
                 metrics=["success_pct", "mean_l2", "median_l2", "n_grads", "time_vs_ddn100"],
                 not_reproduced="not reproduced (no ImageNet data offline)")
for ds in DATASETS:  # a dataset without a row here lacks its model, not ImageNet
    lacking = (table1["dataset"] == PAPER_DATASET[ds]) & (table1["note"] != "")
    table1.loc[lacking, "note"] = f"not reproduced (model {MODEL_NAMES[ds]['baseline']} not trained yet)"
table1.insert(3, "budget (here)", table1[["dataset", "attack", "budget"]].merge(
    t1_here, how="left", on=["dataset", "attack", "budget"])["budget (here)"].values)
table1.insert(len(table1.columns) - 1, "runtime_s (paper, GPU, 1000 images)", t1_paper["runtime_s"].values)
table1.insert(len(table1.columns) - 1, "runtime_s (here, CPU)", table1[["dataset", "attack", "budget"]].merge(
    t1_here, how="left", on=["dataset", "attack", "budget"])["runtime_s"].round(1).values)
results.table(table1, "table1_untargeted")
print(f"Table 1 at this scale: {mnist_images} MNIST and {cifar10_images} CIFAR-10 test images "
      f"(paper: 1000 each); models: {MODEL_NAMES['mnist']['baseline']}, {MODEL_NAMES['cifar10']['baseline']} "
      f"(recipe {recipe!r})")
show(table1)

# %% [markdown]
# Reading the table: on the paper's models DDN-100 is within 5 % of C&W 9×10 000 on MNIST and
# better on CIFAR-10, with 360–540 times fewer gradients. A profile that truncates the C&W
# reference (`quick` runs 9×100 iterations, with the Adam learning rate raised from C&W's 0.01 to
# 0.1 on MNIST so that it converges at all) compares DDN with a much weaker C&W than the paper's:
# C&W needs thousands of iterations to pull saturated (black) MNIST pixels through the tanh, and
# its early abort stops CIFAR-10 rounds after a few dozen steps, so the gap to it is the cost of
# truncating C&W, not a property of DDN. The restricted C&W rows (4×25, 1×100) and
# the DDN rows always run at the paper's budgets outside the `smoke` profile. With a handful of
# images the success rates move in steps of 100/n % and the means carry a sampling error of several
# percent; differences between attacks on the *same* images are more reliable than the absolute
# values.
#
# A documented limit of DDN explains part of the remaining gap wherever C&W does converge: DDN
# follows the cross-entropy gradient, which on a low-confidence model mixes all classes
# ($\sum_j p_j \nabla Z_j - \nabla Z_y$) and can settle on a boundary point that is not the closest.
# On the library's low-confidence linear test models DDN's mean norm is ≈ 1.27 times the exact
# minimum, at 100 and at 1000 steps, while C&W's logit-margin loss reaches it (≈ 1.00;
# `tests/test_attacks_linear.py`). Confident CNNs like these are far less affected.

# %% [markdown]
# ### Tables 2–4 — targeted attacks
#
# Each image is attacked towards each of its 9 other classes (C&W's protocol). *Average case*:
# over all attacks; *least likely*: for each image its worst target (the paper's definition: the
# largest norm over the 9 targets, a failure if any target failed), then averaged over images.
# The restricted C&W rows reuse the learning rate and C selected by the untargeted grid search.

# %%
TARGETED_ROWS = [("C&W", b) for b in PAPER_CW] + [("DDN", b) for b in PAPER_DDN]
TARGETED = {}  # dataset -> {(attack, paper budget): AttackResult over images x 9 targets}


def targeted_inputs(ds):
    """Each of the first images repeated for its 9 other classes: inputs, targets (image-major order)."""
    n = TARGETED_IMAGES[ds]
    images, labels = TEST[ds].images[:n], TEST[ds].labels[:n]
    targets = torch.stack([torch.tensor([c for c in range(10) if c != y]) for y in labels.tolist()])
    return images.repeat_interleave(9, 0).to(DEVICE), targets.flatten().to(DEVICE)


def targeted_metrics(result, n):
    distance = result.adversarial_distance("l2").view(n, 9).double()
    worst = distance.amax(1)  # +inf as soon as one target failed
    avg_ok, ll_ok = torch.isfinite(distance), torch.isfinite(worst)
    return {"avg_success_pct": 100 * avg_ok.double().mean().item(),
            "avg_mean_l2": distance[avg_ok].mean().item() if avg_ok.any() else math.nan,
            "ll_success_pct": 100 * ll_ok.double().mean().item(),
            "ll_mean_l2": worst[ll_ok].mean().item() if ll_ok.any() else math.nan}


targeted_tables = {}
for ds, table_id in (("mnist", "T2"), ("cifar10", "T3")):
    if TARGETED_IMAGES[ds] == 0 or not model_ready(ds, "baseline"):
        continue
    model, (inputs, targets) = MODELS[ds, "baseline"], targeted_inputs(ds)
    runs = TARGETED[ds] = {}
    for attack, budget in TARGETED_ROWS:
        if attack == "DDN":
            fn = partial(ddn, steps=DDN_RUN[budget])
        elif budget == CW_REF:
            fn = cw(CW_RUN[budget], cw_learning_rate[ds], cw_initial_const)
        else:
            fn = cw(CW_RUN[budget], *CW_SELECTED[ds, budget])
        runs[attack, budget] = run_attack(model, inputs, targets, fn, targeted=True)
    here = pd.DataFrame([{"attack": f"{attack} {budget}", "budget (here)": budget_text(attack, budget),
                          **targeted_metrics(runs[attack, budget], TARGETED_IMAGES[ds])}
                         for attack, budget in TARGETED_ROWS])
    table = compare(paper_table("ddn", table_id), here, on=["attack"],
                    metrics=["avg_success_pct", "avg_mean_l2", "ll_success_pct", "ll_mean_l2"])
    table.insert(1, "budget (here)", table[["attack"]].merge(here, how="left", on="attack")["budget (here)"].values)
    targeted_tables[ds] = results.table(table, f"table{table_id[1]}_targeted_{ds}")
    print(f"Table {table_id[1]} ({PAPER_DATASET[ds]}): {TARGETED_IMAGES[ds]} images × 9 targets = "
          f"{9 * TARGETED_IMAGES[ds]} attacks (paper: 9000); model {MODEL_NAMES[ds]['baseline']}; "
          f"images: {TEST[ds].source}")
    show(table)

table4 = compare(paper_table("ddn", "T4"), pd.DataFrame(columns=["attack", "avg_success_pct", "avg_mean_l2",
                                                                 "ll_success_pct", "ll_mean_l2"]),
                 on=["attack"], metrics=["avg_success_pct", "avg_mean_l2", "ll_success_pct", "ll_mean_l2"],
                 not_reproduced="not reproduced (no ImageNet data offline)")
results.table(table4, "table4_targeted_imagenet")
print("Table 4 (ImageNet, Inception v3, 100 000 attacks): quoted from the paper")
show(table4)

# %% [markdown]
# ## The C&W constant (Fig. 2)
#
# The motivation for DDN: the best constant $C$ of C&W's penalty differs by orders of magnitude
# between examples (from $2^{-11}$ to $2^5$ on the paper's MNIST model) and is larger on
# adversarially trained models, so it must be searched per example. The histogram shows, for
# each attacked image, the constant of the search round that produced C&W's returned example
# (`carlini_wagner_l2(..., return_best_const=True)`), from the runs of the 9×10 000 row on each
# model (Table 1's run on the baseline; the same runs serve Tables 5–6). The search multiplies C by
# 10 until an attack succeeds and then bisects, so the values cluster on a few levels. The paper
# shows MNIST only; CIFAR-10 is shown as well.

# %%
for ds in DATASETS:  # the 9x10000 row of Tables 5-6 on every model (Table 1's baseline run is reused)
    for role in ROLES:
        if model_ready(ds, role):
            attack_untargeted(ds, role, [("C&W", CW_REF)])
panels = [ds for ds in DATASETS if (ds, "baseline") in CONSTANTS]
if panels:
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.6), squeeze=False)
    bins = np.arange(-14, 12) + 0.5
    constant_rows = []
    for ax, ds in zip(axes[0], panels):
        for role, color in zip(ROLES, ("tab:blue", "tab:orange", "tab:green")):
            if (ds, role) not in CONSTANTS:
                continue
            values = CONSTANTS[ds, role]
            values = values[torch.isfinite(values)]
            ax.hist(np.log2(values.numpy()), bins=bins, histtype="step", lw=1.8, color=color,
                    label=f"{ROLE_LABEL[role]} ({len(values)} images)")
            constant_rows += [{"dataset": PAPER_DATASET[ds], "model": MODEL_NAMES[ds][role], "best_C": c}
                              for c in values.tolist()]
        ax.set_xlim(-14, 10)  # the paper's axis: ticks -12 ... 8
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("log₂(best C)")
        ax.set_ylabel("# examples")
        ax.set_title(f"{PAPER_DATASET[ds]}{'' if ds == 'mnist' else ' (not in the paper)'}: "
                     "C&W {}×{}".format(*CW_RUN[CW_REF]))
        ax.legend(fontsize=8)
    fig.tight_layout()
    results.figure(fig, "fig2_cw_best_constant")
    plt.show()
    constants_table = results.table(pd.DataFrame(constant_rows, columns=["dataset", "model", "best_C"]),
                                    "fig2_cw_best_constant")
    summary_c = constants_table.groupby(["dataset", "model"], sort=False)["best_C"].agg(
        ["count", "min", "median", "max"]).reset_index()
    summary_c["log2 range"] = np.log2(summary_c["max"] / summary_c["min"]).round(1)
    print(f"Paper (MNIST, 1000 images): best C from 2^-11 to 2^5 (a log2 range of 16); larger on the "
          f"adversarially trained model. Here:")
    show(summary_c, precision=3)

# %% [markdown]
# ## Defense evaluation (Tables 5–6, Fig. 4)
#
# Each model is attacked untargeted by C&W 9×10 000, DeepFool 100 and DDN 1000 (at this profile's
# budgets); "All" keeps, per image, the smallest perturbation of the three. The last column is the
# model's accuracy when the attacker's norm is limited to ε (1.5 on MNIST, 0.5 on CIFAR-10): the
# fraction of images with no adversarial example within ε (misclassified clean images count as
# broken). The paper's Table 6 models are Wide ResNets; ours are the C&W CNN.

# %%
DEFENSE_ROWS = [("C&W", CW_REF), ("DeepFool", "100"), ("DDN", BIG_DDN)]
DEFENSE_ATTACK = {("C&W", CW_REF): "C&W 9x10000", ("DeepFool", "100"): "DeepFool 100", ("DDN", BIG_DDN): "DDN 1000"}
BEST = {}  # (dataset, role) -> per-image smallest L2 over the three attacks ("All")
defense_tables = {}
for ds, table_id in (("mnist", "T5"), ("cifar10", "T6")):
    paper = paper_table("ddn", table_id)
    paper_defense = dict(zip(ROLES, paper["defense"].unique()))
    eps = DEFENSE_EPS[ds]
    rows = []
    for role in ROLES:
        if not model_ready(ds, role):
            continue
        runs = attack_untargeted(ds, role, DEFENSE_ROWS)
        for key in DEFENSE_ROWS:
            rows.append({"defense": paper_defense[role], "attack": DEFENSE_ATTACK[key],
                         "budget (here)": f"{key[0]} {budget_text(*key)}", **metrics(runs[key]),
                         "acc_at_eps_pct": 100 * robust_accuracy(runs[key], [eps]).item()})
        best = BEST[ds, role] = best_distances([runs[key] for key in DEFENSE_ROWS])
        found = torch.isfinite(best)
        rows.append({"defense": paper_defense[role], "attack": "All", "budget (here)": "per-image minimum",
                     "success_pct": 100 * found.double().mean().item(),
                     "mean_l2": best[found].double().mean().item() if found.any() else math.nan,
                     "median_l2": best.double().quantile(0.5, interpolation="lower").item(),
                     "acc_at_eps_pct": 100 * (best > eps).double().mean().item()})
    here = pd.DataFrame(rows, columns=["defense", "attack", "budget (here)", "success_pct", "mean_l2", "median_l2",
                                       "acc_at_eps_pct"])
    table = compare(paper, here, on=["defense", "attack"],
                    metrics=["success_pct", "mean_l2", "median_l2", "acc_at_eps_pct"],
                    not_reproduced="not reproduced (model not trained yet)")
    table.insert(2, "model (here)", table["defense"].map({paper_defense[r]: MODEL_NAMES[ds][r] for r in ROLES}))
    table.insert(3, "budget (here)", table[["defense", "attack"]].merge(
        here, how="left", on=["defense", "attack"])["budget (here)"].values)
    defense_tables[ds] = results.table(table, f"table{table_id[1]}_defense_{ds}")
    print(f"Table {table_id[1]} ({PAPER_DATASET[ds]}, accuracy at ε ≤ {eps}): {IMAGES[ds]} test images "
          f"(paper: not stated, presumably 1000); images: {TEST[ds].source}")
    show(table)

# %% [markdown]
# ### Fig. 4 — accuracy against the bound ε
#
# The curves are the accuracy under the per-image minimum of the three attacks ("All") as the
# allowed norm grows; the markers are the four points the paper states in its text.

# %%
fig4_points = pd.DataFrame(paper_figure("ddn", "Fig4")["points_stated_in_text"])
EPS_GRID = {"mnist": np.linspace(0, 4, 81), "cifar10": np.linspace(0, 2.5, 101)}
panels = [ds for ds in DATASETS if any((ds, role) in BEST for role in ROLES)]
curve_rows = []
if panels:
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), squeeze=False)
    for ax, ds in zip(axes[0], panels):
        points = fig4_points[fig4_points["dataset"] == PAPER_DATASET[ds]]
        for role, color in zip(ROLES, ("tab:blue", "tab:orange", "tab:green")):
            ax.scatter(points["eps"], points[role], marker="x", s=50, color=color,
                       label=f"paper: {ROLE_LABEL[role].split(' (')[0]}")
            if (ds, role) not in BEST:
                continue
            accuracy = 100 * (BEST[ds, role][None, :] > torch.as_tensor(EPS_GRID[ds])[:, None]).double().mean(1)
            ax.plot(EPS_GRID[ds], accuracy.numpy(), color=color, drawstyle="steps-post",
                    label=f"here: {MODEL_NAMES[ds][role]}")
            curve_rows += [{"dataset": PAPER_DATASET[ds], "model": MODEL_NAMES[ds][role], "role": role, "eps": e,
                            "accuracy_pct": a} for e, a in zip(EPS_GRID[ds], accuracy.tolist())]
        ax.set_xlabel("L2 norm of the noise ε")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(-2, 102)
        ax.set_title(f"{PAPER_DATASET[ds]} ({IMAGES[ds]} images)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    results.figure(fig, "fig4_accuracy_vs_eps")
    plt.show()
curves = results.table(pd.DataFrame(curve_rows, columns=["dataset", "model", "role", "eps", "accuracy_pct"]),
                       "fig4_accuracy_vs_eps")

# Fig. 4's stated points side by side
fig4_here = []
for point in fig4_points.itertuples():
    ds = {v: k for k, v in PAPER_DATASET.items()}[point.dataset]
    row = {"dataset": point.dataset, "eps": point.eps}
    for role in ROLES:
        row[role] = (100 * (BEST[ds, role] > point.eps).double().mean().item()) if (ds, role) in BEST else math.nan
    if any(math.isfinite(row[role]) for role in ROLES):
        fig4_here.append(row)
fig4_table = compare(fig4_points,
                     pd.DataFrame(fig4_here, columns=["dataset", "eps", *ROLES]), on=["dataset", "eps"],
                     metrics=list(ROLES), not_reproduced="not reproduced (models not trained yet)")
results.table(fig4_table, "fig4_stated_points")
show(fig4_table, precision=1)

# %% [markdown]
# ## Adversarial examples (Fig. 5)
#
# DDN adversarial examples (the DDN 1000 row's budget) against the three models: top left the
# norm ‖δ‖₂, bottom right the predicted class. On the paper's models the perturbations against
# the baseline leave the digit recognisable, while some against the DDN-trained model actually
# turn it into another digit.

# %%
for ds in DATASETS:
    roles = [role for role in ROLES if (ds, role) in UNTARGETED and ("DDN", BIG_DDN) in UNTARGETED[ds, role]]
    if not roles:
        continue
    count = min(example_images, IMAGES[ds])
    fig, axes = plt.subplots(len(roles) + 1, count, figsize=(1.5 * count, 1.6 * (len(roles) + 1)), squeeze=False)
    images, labels = TEST[ds].images[:count], TEST[ds].labels[:count]
    rows = [("clean", images, labels, None)]
    for role in roles:
        result = UNTARGETED[ds, role]["DDN", BIG_DDN]
        with torch.no_grad():
            predicted = MODELS[ds, role](result.adv_inputs[:count].to(DEVICE)).argmax(1).cpu()
        rows.append((ROLE_LABEL[role].split(" (")[0], result.adv_inputs[:count], predicted,
                     result.distances["l2"][:count]))
    for r, (name, batch, classes, norms) in enumerate(rows):
        for c in range(count):
            ax = axes[r, c]
            ax.imshow(batch[c].permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if norms is not None:
                ax.text(1, 1, f"{norms[c]:.2f}", color="yellow", fontsize=7, va="top",
                        bbox=dict(facecolor="black", alpha=0.6, pad=1, lw=0))
            ax.text(0.97, 0.03, TEST[ds].classes[int(classes[c])], color="white", fontsize=7, ha="right",
                    transform=ax.transAxes, bbox=dict(facecolor="black", alpha=0.6, pad=1, lw=0))
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
    fig.suptitle(f"{PAPER_DATASET[ds]}: DDN {DDN_RUN[BIG_DDN]} examples "
                 "(top left ‖δ‖₂, bottom right prediction)", fontsize=9)
    fig.tight_layout()
    results.figure(fig, f"fig5_examples_{ds}")
    plt.show()

# %% [markdown]
# ## Headline claims
#
# Each headline claim of the paper (DDN-C1 … C14) gets a verdict computed from the numbers above:
# **holds** (as stated, at the thresholds the paper states), **holds qualitatively** (the
# direction or ordering holds but not the numbers) or **does not hold at this scale**. The rule of
# each verdict is written next to it in the code. Claims about ImageNet only (C4, C5, C8) cannot
# be tested without ImageNet: they are listed separately as "not reproduced (no ImageNet data
# offline)" and left out of the verdicts, because any of the three verdicts would misstate them.
# Claims that mix ImageNet with MNIST/CIFAR-10 (C2, C3, C6) are judged on their MNIST and CIFAR-10
# parts, and their "reproduced" text says so. A claim whose models are not trained yet is listed
# the same way, with the command that trains them.

# %%
claims, not_judged = [], []
NO_IMAGENET = "not reproduced (no ImageNet data offline)"


class Unmeasured(Exception):
    """A number a claim needs was not measured here (e.g. a mean L2 when every attack failed)."""


def measured(value, what):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise Unmeasured(f"{what} not measured (no successful attack at this scale)")
    return float(value)


def t1(ds, attack, budget, metric):
    row = (t1_here["dataset"] == PAPER_DATASET[ds]) & (t1_here["attack"] == attack) & (t1_here["budget"] == budget)
    return measured(t1_here.loc[row, metric].iloc[0], f"{PAPER_DATASET[ds]} {attack} {budget} {metric}")


def targeted(ds, label, metric):
    frame = targeted_tables[ds]
    return measured(frame.loc[frame["attack"] == label, f"{metric} (here)"].iloc[0],
                    f"{PAPER_DATASET[ds]} targeted {label} {metric}")


def defense(ds, role, attack, metric):
    frame = defense_tables[ds]
    paper_defense = paper_table("ddn", "T5" if ds == "mnist" else "T6")["defense"].unique()[ROLES.index(role)]
    value = frame.loc[(frame["defense"] == paper_defense) & (frame["attack"] == attack), f"{metric} (here)"].iloc[0]
    return measured(value, f"{PAPER_DATASET[ds]} {MODEL_NAMES[ds][role]} {attack} {metric}")


def claim(cid, statement, paper, needs, judge):
    """Add a verdict if every number it needs was measured, else list the claim as not judged (never a guess)."""
    lacking = [what for what, ok in needs if not ok]
    if not lacking:
        try:
            reproduced, holds, qualitatively = judge()
        except Unmeasured as error:
            lacking = [str(error)]
    if lacking:
        not_judged.append({"claim": cid, "statement": statement, "paper": paper,
                           "reproduced": "not evaluated: " + "; ".join(lacking)})
        return
    claims.append(Claim(cid, statement, paper, reproduced, verdict(holds, qualitatively)))


def have_baseline(ds):
    return (f"model {MODEL_NAMES[ds]['baseline']} not trained yet", (ds, "baseline") in UNTARGETED)


def have_defense(ds):
    return [(f"model {MODEL_NAMES[ds][r]} not trained yet: advlab zoo train {MODEL_NAMES[ds][r]} --recipe {recipe}",
             (ds, r) in BEST) for r in ROLES]


def have_targeted(ds):
    return (f"no targeted run on {PAPER_DATASET[ds]}", ds in targeted_tables)


def c1():
    # holds: DDN-100's mean L2 at most 5 % above the C&W reference; qualitatively: at most 10 % above.
    gap = t1("mnist", "DDN", "100", "mean_l2") / t1("mnist", "C&W", CW_REF, "mean_l2") - 1
    grads = (t1("mnist", "DDN", "100", "n_grads"), t1("mnist", "C&W", CW_REF, "n_grads"))
    text = (f"MNIST: DDN-100 mean L2 {t1('mnist', 'DDN', '100', 'mean_l2'):.4f} vs C&W {budget_text('C&W', CW_REF)} "
            f"{t1('mnist', 'C&W', CW_REF, 'mean_l2'):.4f} ({100 * gap:+.1f} %), "
            f"{grads[0]:.0f} vs {grads[1]:.0f} gradients")
    return text, gap <= 0.05, gap <= 0.10


claim("DDN-C1", "MNIST untargeted: DDN-100 mean L2 within 5% of C&W 9x10000 with 100 instead of 54 007 gradients",
      "1.4563 vs 1.3961 (+4.3 %), 100 vs 54 007 gradients", [have_baseline("mnist")], c1)


def c2():
    # holds: in every MNIST/CIFAR-10 cell (Table 1 untargeted, Tables 2-3 average case) DDN-100 has a lower
    # mean L2 than C&W 1x100 and 4x25 with equal or higher success; qualitatively: equal or higher success
    # everywhere and lower mean L2 in at least half of the cells.
    cells = []
    for ds in DATASETS:
        if (ds, "baseline") in UNTARGETED:
            for b in ("4x25", "1x100"):
                cells.append((f"{PAPER_DATASET[ds]} untargeted vs C&W {b}",
                              t1(ds, "DDN", "100", "mean_l2"), t1(ds, "C&W", b, "mean_l2"),
                              t1(ds, "DDN", "100", "success_pct"), t1(ds, "C&W", b, "success_pct")))
        if ds in targeted_tables:
            for b in ("4x25", "1x100"):
                cells.append((f"{PAPER_DATASET[ds]} targeted vs C&W {b}",
                              targeted(ds, "DDN 100", "avg_mean_l2"), targeted(ds, f"C&W {b}", "avg_mean_l2"),
                              targeted(ds, "DDN 100", "avg_success_pct"), targeted(ds, f"C&W {b}", "avg_success_pct")))
    lower = [d < c or math.isnan(c) for _, d, c, _, _ in cells]
    success = [sd >= sc for *_, sd, sc in cells]
    lost = [name for (name, *_), lo, su in zip(cells, lower, success) if not (lo and su)]
    text = (f"{sum(lo and su for lo, su in zip(lower, success))} of {len(cells)} MNIST/CIFAR-10 cells"
            + (f"; not in: {', '.join(lost)}" if lost else "") + "; ImageNet cells " + NO_IMAGENET)
    return text, all(lower) and all(success), all(success) and sum(lower) >= len(cells) / 2


claim("DDN-C2", "At 100 gradients DDN-100 has a lower mean L2 than C&W 1x100 and 4x25 (untargeted and average-case "
      "targeted), with equal or higher success", "every cell but ImageNet untargeted success and CIFAR-10 least-likely",
      [have_baseline("mnist"), have_baseline("cifar10")], c2)


def c3():
    # holds: C&W's reference uses >= 100x the gradients of DDN-100 on both datasets and >= 100x the time;
    # qualitatively: more gradients and more time than DDN-100 on both (the ratio is capped by the budget run).
    ratios = {ds: (t1(ds, "C&W", CW_REF, "n_grads") / t1(ds, "DDN", "100", "n_grads"),
                   t1(ds, "C&W", CW_REF, "runtime_s") / t1(ds, "DDN", "100", "runtime_s")) for ds in DATASETS}
    text = "; ".join(f"{PAPER_DATASET[ds]}: {g:.1f}× gradients, {t:.1f}× time" for ds, (g, t) in ratios.items())
    cap = math.prod(CW_RUN[CW_REF]) / DDN_RUN["100"]
    text += f" (C&W run as {budget_text('C&W', CW_REF)}: at most {cap:.0f}×); ImageNet {NO_IMAGENET}"
    return (text, all(g >= 100 and t >= 100 for g, t in ratios.values()),
            all(g > 1 and t > 1 for g, t in ratios.values()))


claim("DDN-C3", "DDN-100 needs ~100x fewer gradients than C&W 9x10000, and proportionally less time",
      "540× / 360× / 213× gradients, 571× / 382× / 215× time (MNIST / CIFAR-10 / ImageNet)",
      [have_baseline("mnist"), have_baseline("cifar10")], c3)

for cid, statement, paper in [
        ("DDN-C4", "ImageNet untargeted: DDN-100 attacks 1000 images in < 10 min vs > 35 h for C&W, with lower mean L2",
         "593.6 s vs 127 755.6 s; 0.3831 vs 0.4692"),
        ("DDN-C5", "ImageNet untargeted: DDN reaches 100% success with 300 iterations", "99.6 % (100), 100 % (300)"),
        ("DDN-C8", "Targeted ImageNet: DDN-100 least-likely mean L2 below C&W's reported 9x10000 value",
         "1.7074 vs 2.22")]:
    not_judged.append({"claim": cid, "statement": statement, "paper": paper, "reproduced": NO_IMAGENET})


def c6():
    # holds: DDN-100 least-likely success >= 99.5 % and each restricted C&W's least-likely success is below
    # its average-case success and below DDN-100's; qualitatively: DDN-100 least-likely success >= both C&W's.
    parts, strict, loose = [], True, True
    for ds in targeted_tables:
        d = targeted(ds, "DDN 100", "ll_success_pct")
        cws = {b: (targeted(ds, f"C&W {b}", "ll_success_pct"), targeted(ds, f"C&W {b}", "avg_success_pct"))
               for b in ("4x25", "1x100")}
        parts.append(f"{PAPER_DATASET[ds]}: DDN-100 {d:.1f} %, C&W 4x25 {cws['4x25'][0]:.1f} %, "
                     f"1x100 {cws['1x100'][0]:.1f} %")
        strict &= d >= 99.5 and all(ll < avg and ll < d for ll, avg in cws.values())
        loose &= all(d >= ll for ll, _ in cws.values())
    return "least-likely success: " + "; ".join(parts) + f"; ImageNet {NO_IMAGENET}", strict, loose


claim("DDN-C6", "Targeted least likely: C&W restricted to 100 iterations loses success, DDN-100 stays >= 99.5%",
      "C&W 4x25 / 1x100: MNIST 69.9 / 31.7 %, CIFAR-10 98.7 / 95.8 %; DDN-100 100 %",
      [have_targeted("mnist"), have_targeted("cifar10")], c6)


def c7():
    # holds: |DDN-1000 / C&W reference - 1| <= 2.5 % (average case) on both datasets;
    # qualitatively: DDN-1000 at most 10 % above the C&W reference on both (comparable or better).
    gaps = {ds: targeted(ds, "DDN 1000", "avg_mean_l2") / targeted(ds, "C&W 9x10000", "avg_mean_l2") - 1
            for ds in DATASETS}
    text = "; ".join(f"{PAPER_DATASET[ds]}: {targeted(ds, 'DDN 1000', 'avg_mean_l2'):.4f} vs "
                     f"{targeted(ds, 'C&W 9x10000', 'avg_mean_l2'):.4f} ({100 * g:+.1f} %)" for ds, g in gaps.items())
    return (text + f" (C&W run as {budget_text('C&W', CW_REF)})", all(abs(g) <= 0.025 for g in gaps.values()),
            all(g <= 0.10 for g in gaps.values()))


claim("DDN-C7", "Targeted MNIST and CIFAR-10: DDN-1000 average-case mean L2 within 2.5% of C&W 9x10000",
      "1.9511 vs 1.9481; 0.2867 vs 0.2798", [have_targeted("mnist"), have_targeted("cifar10")], c7)


def accuracy_at(ds, role, eps):
    return 100 * (BEST[ds, role] > eps).double().mean().item()


def defense_claim(ds, points):
    # holds: DDN-AT > Madry stand-in > baseline at every stated ε and DDN-AT within 5 points of the paper;
    # qualitatively: DDN-AT >= Madry stand-in at every stated ε and > at one at least (few images make ties common).
    text, above, at_least, close = [], True, True, True
    for eps, paper_ours in points:
        acc = {role: accuracy_at(ds, role, eps) for role in ROLES}
        text.append(f"ε {eps}: DDN-AT {acc['ours']:.1f} %, PGD-AT {acc['madry']:.1f} %, "
                    f"baseline {acc['baseline']:.1f} %")
        above &= acc["ours"] > acc["madry"]
        at_least &= acc["ours"] >= acc["madry"]
        close &= acc["madry"] > acc["baseline"] and abs(acc["ours"] - paper_ours) <= 5
    strictly_somewhere = any(accuracy_at(ds, "ours", e) > accuracy_at(ds, "madry", e) for e, _ in points)
    return "; ".join(text), above and close, at_least and strictly_somewhere


claim("DDN-C9", "MNIST: accuracy under the three attacks at eps <= 1.5 and 2.0 is higher for the DDN-trained model "
      "than for Madry's", "ε 1.5: 87.2 vs 67.3 % (baseline 40.8 %); ε 2.0: 74.8 vs 38.6 %", have_defense("mnist"),
      lambda: defense_claim("mnist", [(1.5, 87.2), (2.0, 74.8)]))
claim("DDN-C10", "CIFAR-10: accuracy at eps <= 0.5 and 1.0 is higher for the DDN-trained model than for Madry's",
      "ε 0.5: 67.6 vs 56.1 %; ε 1.0: 39.9 vs 24.4 %", have_defense("cifar10"),
      lambda: defense_claim("cifar10", [(0.5, 67.6), (1.0, 39.9)]))


def c11():
    # holds: DDN-AT's curve >= the Madry stand-in's at every ε of the grid on both datasets;
    # qualitatively: larger area under the curve on both datasets.
    parts, everywhere, area = [], True, True
    for ds in DATASETS:
        frame = curves[curves["dataset"] == PAPER_DATASET[ds]].pivot(index="eps", columns="role", values="accuracy_pct")
        below = (frame["ours"] < frame["madry"]).mean()
        auc = {r: np.trapezoid(frame[r], frame.index) for r in ("ours", "madry")}
        parts.append(f"{PAPER_DATASET[ds]}: DDN-AT below PGD-AT at {100 * below:.0f} % of ε; area "
                     f"{auc['ours']:.0f} vs {auc['madry']:.0f} (%·L2)")
        everywhere &= below == 0
        area &= auc["ours"] > auc["madry"]
    return "; ".join(parts), everywhere, area


claim("DDN-C11", "The DDN-trained model's accuracy curve lies above Madry's for all eps (Fig. 4, both datasets)",
      "above everywhere on MNIST (0–4) and CIFAR-10 (0–2.5)", have_defense("mnist") + have_defense("cifar10"), c11)


def c12():
    # holds: DDN-AT clean accuracy >= the Madry stand-in's on both datasets (the claim is this ordering; there is
    # no weaker reading of it, so no "holds qualitatively").
    acc = {(ds, r): zoo_status.loc[MODEL_NAMES[ds][r], "test accuracy (%)"]
           for ds in DATASETS for r in ("ours", "madry")}
    text = "; ".join(f"{PAPER_DATASET[ds]}: DDN-AT {acc[ds, 'ours']:.2f} vs PGD-AT {acc[ds, 'madry']:.2f} %"
                     for ds in DATASETS)
    return text + " (10 000 test images)", all(acc[ds, "ours"] >= acc[ds, "madry"] for ds in DATASETS), False


claim("DDN-C12", "DDN adversarial training keeps a clean accuracy at least as high as Madry's",
      "99.01 vs 98.53 % (MNIST); 89.0 vs 87.3 % (CIFAR-10)",
      [(f"model {MODEL_NAMES[ds][r]} not trained yet", zoo_status.loc[MODEL_NAMES[ds][r], "status"] == "ok")
       for ds in DATASETS for r in ("ours", "madry")], c12)


def c13():
    # holds: under C&W 9x10000, DDN 1000 and All, DDN-AT's mean and median L2 exceed the Madry stand-in's and the
    # baseline's on both datasets; qualitatively: DDN-AT's "All" mean L2 is the largest on both datasets.
    comparisons, all_mean = [], True
    for ds in DATASETS:
        for attack in ("C&W 9x10000", "DDN 1000", "All"):
            for metric in ("mean_l2", "median_l2"):
                ours = defense(ds, "ours", attack, metric)
                comparisons += [ours > defense(ds, other, attack, metric) for other in ("madry", "baseline")]
        all_mean &= all(defense(ds, "ours", "All", "mean_l2") > defense(ds, r, "All", "mean_l2")
                        for r in ("madry", "baseline"))
    text = f"{sum(comparisons)} of {len(comparisons)} comparisons; " + "; ".join(
        f"{PAPER_DATASET[ds]} All mean: DDN-AT {defense(ds, 'ours', 'All', 'mean_l2'):.3f}, PGD-AT "
        f"{defense(ds, 'madry', 'All', 'mean_l2'):.3f}, baseline {defense(ds, 'baseline', 'All', 'mean_l2'):.3f}"
        for ds in DATASETS)
    return text, all(comparisons), all_mean


claim("DDN-C13", "Under C&W, DDN and All, the DDN-trained model needs larger mean and median L2 than Madry's and the "
      "baseline (both datasets)", "MNIST All mean 2.4497 vs 1.6917 vs 1.3778",
      have_defense("mnist") + have_defense("cifar10"), c13)


def c14():
    # holds: baseline constants span >= 2 orders of magnitude and the DDN-AT median constant exceeds the baseline's;
    # qualitatively: only the latter.
    base, ours = (CONSTANTS["mnist", r][torch.isfinite(CONSTANTS["mnist", r])] for r in ("baseline", "ours"))
    spread = (base.max() / base.min()).item()
    text = (f"MNIST baseline best C from {base.min().item():.3g} to {base.max().item():.3g} ({math.log10(spread):.1f} "
            f"orders of magnitude); median {base.median().item():.3g} (baseline) vs "
            f"{ours.median().item():.3g} (DDN-AT)")
    larger = ours.median().item() > base.median().item()
    return text, spread >= 100 and larger, larger


claim("DDN-C14", "The best C&W constant on MNIST spans several orders of magnitude and is larger on the "
      "adversarially trained model", "2^-11 to 2^5; higher on the adversarially trained model",
      [(f"no successful C&W attack on {MODEL_NAMES['mnist'][r]}",
        (("mnist", r) in CONSTANTS) and bool(torch.isfinite(CONSTANTS["mnist", r]).any()))
       for r in ("baseline", "ours")],
      c14)

order = {f"DDN-C{i}": i for i in range(1, 15)}
claims.sort(key=lambda c: order[c.claim])
verdicts = results.claims(claims)  # an empty list still writes the columns the summary page reads
show(verdicts)
not_judged_table = pd.DataFrame(sorted(not_judged, key=lambda r: order[r["claim"]]),
                                columns=["claim", "statement", "paper", "reproduced"])
results.table(not_judged_table, "claims_not_judged")
print("Claims without a verdict:")
show(not_judged_table)

# %% [markdown]
# ## What differs from the paper
#
# - **Scale.** The `quick` profile attacks a few images and runs C&W's reference at 9×100
#   iterations instead of 9×10 000; its verdicts judge the claims at that scale. The `full`
#   profile restores the paper's numbers of images and budgets.
# - **Models.** The zoo's models are trained by short CPU recipes (the quick CIFAR-10 models are
#   far less accurate than the paper's); the paper's CIFAR-10 defense models are Wide ResNets, and
#   its Madry models are MadryLab's L∞-trained networks, replaced here by L2 PGD adversarial
#   training of the same CNN. Which defense comes out ahead therefore says little about the
#   paper's models at the `quick` scale.
# - **Data.** MNIST is the official set. The CIFAR-10 models are trained on the offline lossy
#   JPEG substitute of CIFAR-10 (unless the official archive is available); the attacked test
#   images are the pixel-exact official ones when the source line above says so.
# - **Implementation choices** where the paper is silent: DDN follows the official
#   code (ε capped at the box, evaluation of the iterate before each step, clean input returned on
#   failure); C&W aborts early per image rather than per batch; DeepFool uses 10 candidate classes
#   and overshoot 0.02 (Foolbox's defaults); the paper's Foolbox run, whose overshoot is not
#   stated, succeeded on only 75.4 % of the MNIST images, so DeepFool's success rates and norms
#   compare only loosely.

# %%
elapsed = time.perf_counter() - chapter_start
summary = [f"Profile **{profile}**: {mnist_images} MNIST and {cifar10_images} CIFAR-10 images untargeted, "
           f"{targeted_mnist_images} + {targeted_cifar10_images} images × 9 targets; chapter computed in "
           f"{elapsed / 60:.1f} min on {torch.get_num_threads()} CPU threads."]
if missing:
    summary.append("Models not trained yet (their sections were skipped): "
                   + ", ".join(f"`{name}` (`advlab zoo train {name} --recipe {recipe}`)" for name in missing) + ".")
counts = verdicts["verdict"].value_counts()
summary.append("Verdicts: " + ", ".join(f"{count} {name}" for name, count in counts.items())
               + f"; {len(not_judged)} claims without a verdict.")
display(Markdown("\n\n".join(summary)))
