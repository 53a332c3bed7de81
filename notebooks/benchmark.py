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
# # Which attack should I use?
#
# Each paper compares its attack with a few others, on its own models, budgets and metrics. This
# chapter runs **every minimal-norm attack of the five papers** — DDN {cite}`rony2019ddn`, ANU
# {cite}`liu2021anu`, C&W-L2 {cite}`carlini2017towards`, EAD {cite}`chen2018ead` (both decision rules),
# DeepFool {cite}`moosavi2016deepfool`, FGM {cite}`goodfellow2015explaining`, I-FGM
# {cite}`kurakin2017adversarial` and PGD {cite}`madry2018towards` with a per-image search of the
# smallest ε, and Algorithm 1-n of the convex framework {cite}`balda2018convex` — and **the same attacks
# from the public libraries** a reader would otherwise download — the DDN authors' adv_lib
# {cite}`rony2020advlib`, Foolbox 3 {cite}`rauber2020foolbox`, torchattacks {cite}`kim2020torchattacks`
# and ART {cite}`nicolae2018art` — on the same images of the same zoo models, clean and adversarially
# trained, at the same budgets, scored as AttackBench {cite}`cina2025attackbench` scores attacks.
#
# **Budget.** A budget is a number of *gradient evaluations* per image: forward+backward passes,
# counted by hooks on the model (`advlab.evaluate.run_attack`; a DeepFool or Algorithm 1-n step takes
# one backward pass per class). Every implementation of an attack gets the same schedule for a
# budget $B$: DDN and ANU run $B$ iterations; C&W and EAD run $r = \min(9, \max(1, \lfloor B/25\rfloor))$
# rounds of the binary search on $c$ with $\lfloor B/r\rfloor$ iterations each (4 × 25 at 100, the DDN
# paper's short C&W); FGM, I-FGM, PGD and Algorithm 1-n bisect each image's ε in $[0, \varepsilon_{\max}]$
# with an inner attack whose steps times calls fit $B$ (`advlab.benchmark.eps_search_schedule`: 4
# halvings of 5 steps at 25, 9 of 10 at 100, so ε is resolved to $\varepsilon_{\max}/2^4$ or
# $\varepsilon_{\max}/2^9$; an Algorithm 1-n step costs one gradient per class, so it gets $B/10$ steps).
# FGM and DeepFool stop by their own rule; they compete at every budget their *measured* count fits.
# The public EADs run the L1 decision rule and are scored in L1; advlab's EAD gives both rules from one
# run, its L1 rule scored in L1 and its EN rule in L2.
#
# **Optimality** (AttackBench). For a threat model, the *best known* distance of an image is the
# smallest distance any attack run here found for it. An attack's robust-accuracy curve
# $\mathrm{RA}(\varepsilon)$ (the fraction of images it could not fool within ε) lies above the best
# known one's; with $d_{\max}$ the largest finite best-known distance, $A$ the area under a curve on
# $[0, d_{\max}]$ and $c$ the fraction of images with a nonzero best distance,
#
# $$\mathrm{optimality} = 1 - \frac{A(\text{attack}) - A(\text{best})}{c\,d_{\max} - A(\text{best})},$$
#
# 1 when the attack matches the best known on every image, 0 when it fools none
# (`advlab.evaluate.optimality_of`). It is relative to the attacks run here: a strong attack missing
# from the pool would lower every score.
#
# **How to read the numbers.** Every rate, median, mean and optimality is *value [95 % interval]*
# over the attacked images (Wilson for rates, bootstrap otherwise); the median counts failures as
# +∞, the mean is over successes. All comparisons are **paired**: the same images, and intervals
# resample whole images. The quick profile attacks a hundred MNIST and fifty CIFAR-10 images at
# budgets of 25 and 100 on this book's 2-core CPU; the papers' budgets (1000 and more) are the full
# profile's. CIFAR-10 is the offline substitute (see the data source printed below), the models
# are the zoo's quick recipes: absolute distances are this book's, not the papers'.

# %% tags=["parameters"]
profile = "quick"  # the profile that set these parameters (papermill overrides it)
results_dir = None  # where tables and figures are saved (the pipeline sets it)
recipe = "quick"  # zoo recipe of every model attacked
images = {"mnist": 100, "cifar10": 50}  # the first test images both models of a dataset classify correctly
budgets = [25, 100]  # gradient evaluations per image at which every advlab attack runs
public_budgets = [100]  # the budgets at which the public implementations run
public_roles = ["clean"]  # the models (clean, at) the public implementations attack
cw_learning_rate = {"mnist": 0.1, "cifar10": 0.01}  # Adam's step of C&W (the DDN chapter's quick setting)
initial_const = 1.0  # c₀ of the binary search of C&W and EAD (papers: 1e-3 with 9 rounds of 1000 or more)
eps_max = {"mnist": {"l2": 8.0, "l1": 100.0, "linf": 0.6}, "cifar10": {"l2": 1.5, "l1": 30.0, "linf": 0.05}}  # top of each ε bisection
deepfool_steps = 50  # DeepFool's iteration cap (overshoot 0.02, 10 candidate classes)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Markdown, display

import advlab.chapter as ch
from advlab import benchmark as bm
from advlab.chapter import plots

ctx = ch.start("benchmark", globals())
MODELS = {"mnist": {"clean": "mnist-smallcnn", "at": "mnist-smallcnn-ddn-at"},
          "cifar10": {"clean": "cifar10-cnn", "at": "cifar10-cnn-ddn-at"}}
models = ctx.models(MODELS, recipe, labels={"at": "adversarially trained (DDN)"})
ctx.save("models", models.table)

# %% [markdown]
# ## The implementations
#
# advlab's attacks, and every public library that imports here (a benchmark-only extra,
# `pip install -e '.[bench]'`, pinned in `requirements.lock`). A library that does not import is
# named with the reason and left out; the rest of the chapter runs without it.

# %%
from importlib import metadata

DISTRIBUTIONS = {"advlab": "advlab", "adv_lib": "adv-lib", "Foolbox": "foolbox", "torchattacks": "torchattacks",
                 "ART": "adversarial-robustness-toolbox"}
status = bm.available()
rows = []
for name, distribution in DISTRIBUTIONS.items():
    problem = status.get(name)
    version = metadata.version(distribution) if problem is None else "—"
    rows.append({"implementation": name, "version": version, "status": "runs" if problem is None else f"missing: {problem}"})
ctx.save("implementations", pd.DataFrame(rows))

# %% [markdown]
# ## The runs
#
# Each dataset's images are the first test images that both of its models classify correctly, so
# that every image is attacked on both and every attack on the same images. Each model is attacked
# by every contender in one batch; a bare forward+backward pass of the same batch is timed before
# and after (its mean is the unit of the time columns). C&W and EAD run without early abort in every
# implementation that lets it be switched off (the budget is the iterations); advlab's C&W runs a
# second time with its default per-image early abort (*advlab, early abort*). In the quick profile
# the public implementations attack the clean models only (`public_roles`): ART alone would take
# half of the chapter's time on the adversarially trained ones too.

# %%
settings = {ds: bm.Settings(ds, cw_learning_rate=cw_learning_rate[ds], cw_initial_const=initial_const,
                            ead_initial_const=initial_const, eps_max=eps_max[ds], deepfool_steps=deepfool_steps)
            for ds in MODELS}
attacked, measured = {}, {}
for ds in MODELS:
    pair = [models[ds, role] for role in MODELS[ds] if (ds, role) in models]
    attacked[ds] = ch.attack_set(ds, images[ds], correct_for=pair)
    ctx.source(attacked[ds].dataset)
    print(f"{ch.PAPER_DATASET[ds]}: {attacked[ds].describe()}")
    for role in MODELS[ds]:
        if (ds, role) not in models:
            continue
        label = f"{ch.PAPER_DATASET[ds]} {role}"
        implementations = bm.IMPLEMENTATIONS if role in public_roles else ("advlab",)
        entries = bm.contenders(settings[ds], budgets, public_budgets, implementations)
        measured[label] = bm.measure(models[ds, role], attacked[ds], entries)
        m = measured[label]
        print(f"  {label}: {len(m.contenders)} contenders in {m.seconds:.0f} s; bare forward+backward {m.floor * 1000:.1f} ms")
        for (attack, implementation, budget), error in m.failed.items():
            print(f"    failed: {attack} ({implementation}, {bm.budget_label(budget)}): {error}")
MODEL_LABELS = list(measured)

# %%
frames = [bm.scores(measured[label], norm, model=label) for label in MODEL_LABELS for norm in bm.THREAT_MODELS]
scores = pd.concat(frames, ignore_index=True)
ctx.results.table(scores, "scores")


def by_model(norm: str, metric: str) -> pd.DataFrame:
    return bm.by_model(scores, norm, metric, MODEL_LABELS)


# %% [markdown]
# ## Every attack on every model
#
# Per threat model: each contender's success rate, median distance (failures as +∞) and optimality on
# each model; the full table (mean distances, pass counts, times) is in the results folder
# (`scores.csv`) and folded below.

# %%
for norm in bm.THREAT_MODELS:
    display(Markdown(f"**{bm.THREAT_NAMES[norm]}**: median distance [95 % interval] per model"))
    ch.show(by_model(norm, f"median_{norm}"))
    display(Markdown(f"**{bm.THREAT_NAMES[norm]}**: success rate (%) per model"))
    ch.show(by_model(norm, "success_pct"), digits=1)

# %% tags=["hide-output"]
ch.show(scores, caption="Every contender on every model: all measures")

# %% [markdown]
# ## Robust accuracy against ε
#
# One curve per attack (advlab's implementation at the largest budget; FGM and DeepFool at their own
# stop) and the per-image best known over every attack and implementation run (black). A curve
# further left fools more images within a smaller ε.

# %%
largest = max(budgets)
fig, axes = plt.subplots(len(bm.THREAT_MODELS), len(MODEL_LABELS), figsize=(3.4 * len(MODEL_LABELS), 8.4),
                         squeeze=False)
palette = dict(zip(["DDN", "ANU", "C&W-L2", "EAD", "DeepFool", "FGM", "I-FGM", "PGD", "Alg1-n"], sns.color_palette("tab10")))
for row, norm in enumerate(bm.THREAT_MODELS):
    for col, label in enumerate(MODEL_LABELS):
        ax, m = axes[row, col], measured[label]
        best = bm.best_known(m, norm)
        top = float(best[best.isfinite()].max()) * 1.5
        eps = np.linspace(0, top, 60)
        for (attack, implementation, budget), result in m.scored(norm).items():
            if implementation == "advlab" and budget in (None, largest):
                plots.accuracy_vs_eps(ax, plots.accuracy_curve(result.adversarial_distance(norm), eps), attack,
                                      color=palette[attack], band=False)
        plots.accuracy_vs_eps(ax, plots.accuracy_curve(best, eps), "best known", color="black", band=False)
        ax.set_title(f"{label}, {bm.THREAT_NAMES[norm]}", fontsize=9)
        ax.set_xlabel(f"ε ({bm.THREAT_NAMES[norm]})")
        if ax.get_legend():
            ax.get_legend().remove()
handles = {h.get_label(): h for ax in axes.flat for h in ax.get_lines()}
fig.legend(handles.values(), handles.keys(), loc="upper center", bbox_to_anchor=(0.5, 0), ncol=len(handles),
           fontsize=8, frameon=False)
ctx.save("robust_accuracy", fig)

# %% [markdown]
# ## Optimality
#
# AttackBench's optimality of every contender on every model (1 = the best known on every image).
# Rows are sorted by the mean over the models.

# %%
fig, axes = plt.subplots(1, len(bm.THREAT_MODELS), figsize=(15, 7.5), gridspec_kw={"width_ratios": [1.6, 0.8, 1]})
for ax, norm in zip(axes, bm.THREAT_MODELS):
    table = by_model(norm, "optimality")
    values = table[MODEL_LABELS].astype(float)
    values.index = [f"{a} ({i}, {b})" for a, i, b in zip(table["attack"], table["implementation"], table["budget"])]
    values = values.loc[values.mean(axis=1).sort_values(ascending=False).index]
    sns.heatmap(values, vmin=0, vmax=1, cmap="viridis", annot=True, fmt=".2f", cbar=False, ax=ax,
                annot_kws={"fontsize": 7})
    ax.set_title(bm.THREAT_NAMES[norm])
    ax.set_xticklabels([t.get_text().replace(" ", "\n", 1) for t in ax.get_xticklabels()], fontsize=7, rotation=0)
    ax.tick_params(axis="y", labelsize=7)
ctx.save("optimality", fig)

# %%
for norm in bm.THREAT_MODELS:
    display(Markdown(f"**{bm.THREAT_NAMES[norm]}**: optimality [95 % interval] per model"))
    ch.show(by_model(norm, "optimality"))

# %% [markdown]
# ## The recommendation
#
# For each threat model and budget, among the contenders that fit the budget (configured for it, or
# stopping by their own rule within it) and ran on every model (in the quick profile: advlab's, as the
# public implementations attack the clean models only): the one with the highest mean optimality. Beside it, per model, its optimality, how much larger its median distance is than the
# per-image best known (paired, images both fooled), and its lead in optimality over the runner-up
# (paired bootstrap: an interval above 0 means the lead is resolved on that model).

# %%
recommendations = [r for norm in bm.THREAT_MODELS for budget in budgets
                   if (r := bm.recommend(measured, norm, budget)) is not None]
ctx.save("recommendations", pd.DataFrame([{key: value for key, value in r.items() if key != "per model"}
                                          for r in recommendations]))
for r in recommendations:
    lines = [f"- {label} (n = {e['optimality'].n} images): optimality {e['optimality']}, "
             f"median {e['median / best − 1'].format(1, 100, ' %')} above "
             "the best known" + ("" if e["lead"] is None else f", lead over the runner-up {e['lead']}")
             for label, e in r["per model"].items()]
    display(Markdown(f"**{r['threat model']}, budget {r['budget']}: {r['attack']}** ({r['implementation']}, "
                     f"configured for {r['configured for']}); runner-up {r['runner-up']}\n" + "\n".join(lines)))


# %% [markdown]
# ## The public implementations against advlab's
#
# Each public implementation of an attack against advlab's at the same budget, on the same images:
# the difference in success rate, the relative difference of the median distance over the images
# both fooled, and their time ratio. *Agrees* means the success interval contains 0 and the median's
# lies within ±5 %; otherwise the resolved differences are named.

# %%
gaps = pd.concat([bm.implementation_gaps(measured[label], norm, model=label)
                  for label in MODEL_LABELS for norm in bm.THREAT_MODELS], ignore_index=True)
gaps[["median Δ%", "median Δ% low", "median Δ% high"]] = gaps[["median Δ%", "median Δ% low", "median Δ% high"]].round(1)
order = ["model", "threat model", "attack", "implementation", "budget", "images", "verdict", "success_pct Δ", "success_pct Δ low",
         "success_pct Δ high", "median Δ%", "median Δ% low", "median Δ% high", "time ratio"]
ctx.save("implementation_gaps", gaps[[column for column in order if column in gaps]])

# %% [markdown]
# ### Where they disagree, and why
#
# Each difference traced to the line of the library's code that causes it (paths inside
# `site-packages`, at the pinned versions), found by reading the code and confirmed on small probes
# (20 MNIST images) where a number is given; this run's verdicts follow the list.
#
# - **Foolbox 3.3.4, C&W-L2 and EAD: a failure comes back as a black image.** The best-so-far buffer
#   starts as zeros, `best_advs = ep.zeros_like(x)` (`foolbox/attacks/carlini_wagner.py:147`,
#   `foolbox/attacks/ead.py:144`), and is returned where no iterate succeeded. Every failed image whose
#   label is not the black image's class then counts as a success at a huge distance: more successes,
#   larger norms, although on the images both implementations fool they find the same examples
#   (probe: Foolbox C&W "succeeds" on 18 of 20, six of them black; without those, on the same 14 as advlab).
# - **torchattacks 3.5.1, C&W-L2: one constant, and pixels at 0 or 1 never move.** There is no binary
#   search on c (`torchattacks/attacks/cw.py:35`: "Binary search for c is NOT IMPLEMENTED"); here it
#   runs the whole budget at C&W's c₀. Its change of variables `atanh(clamp(2x − 1, −1, 1))`
#   (`cw.py:124-127`) maps a pixel of exactly 0 or 1 to ∓∞, where tanh′ = 0, so those pixels get no
#   gradient — 82 % of the MNIST pixels (C&W's code and advlab shrink by 1 − 10⁻⁶ first; probe: no
#   saturated pixel changed). Its margin masks the label with 0 instead of −∞ (`cw.py:134-136`), and
#   its early abort ends the whole batch on the summed loss (`cw.py:111-113`). Where it finds smaller
#   norms than advlab, the schedule explains it: it spends all 100 iterations at one c (c₀ = 1 suits
#   these MNIST models), where C&W's 4 × 25 restarts Adam from δ = 0 in each round.
# - **torchattacks 3.5.1, EAD (`EADL1`): the clean image moves with the iterate.** `y_k =
#   nn.Parameter(images)` (`torchattacks/attacks/eadl1.py:86`) shares memory with `images`, so each
#   gradient step on y_k also moves x₀, the reference of the shrinkage and of the distances; and y_k is
#   not reset between rounds of the binary search (set once, before the loop at `eadl1.py:89`). Its
#   outputs leave [0, 1], which `run_attack` rejects: the run is listed as failed above.
# - **torchattacks 3.5.1, DeepFool: it stalls on the boundary, one image at a time.** Each step
#   restarts from the clipped iterate, with the overshoot on that step only and without the original
#   code's +10⁻⁴ (`torchattacks/attacks/deepfool.py:93-102`): the clipped steps shrink geometrically
#   and the margin reaches 0 without changing sign (probe: 9 of 20 images end within 10⁻⁶ of the
#   boundary, unfooled; removing either the clipping or the missing 10⁻⁴ fools all 20). It loops over
#   the images in Python with one backward pass per class (`deepfool.py:55-66, 107-114`).
# - **ART 1.20.1, C&W-L2: another optimiser.** `CarliniL2Method` takes plain gradient steps sized by a
#   line search (up to 5 halvings and 5 doublings, one forward pass each,
#   `art/attacks/evasion/carlini.py:353-431`) instead of Adam, and doubles c where C&W multiply it by
#   10 (`carlini.py:473-481`): about ten forward passes per iteration, and its `learning_rate` is the
#   line search's first step, not Adam's.
# - **ART 1.20.1, EAD (`ElasticNet`): the distance term vanishes once an image is adversarial.**
#   `loss_gradient[cond] = 0.0` (`art/attacks/evasion/elastic_net.py:175-179`) zeroes the whole
#   gradient, the 2(x − x₀) term included; only the β-shrinkage pulls the iterate back, so the L1
#   distances come out larger at the same success (probe: restoring the distance term alone reproduces
#   advlab's examples exactly).
# - **ART 1.20.1 and Foolbox 3.3.4, DeepFool: the same examples at many more passes.** ART updates the
#   whole batch with all class gradients until every image stops (`art/attacks/evasion/deepfool.py:149,
#   185-195`) and applies its `epsilon` (the overshoot) once, after the loop (`deepfool.py:203-211`);
#   Foolbox takes one forward and one backward pass per candidate class on the whole batch until the
#   last image is fooled (`foolbox/attacks/deepfool.py:138-150`). ART ignores the labels and attacks the
#   model's prediction (`deepfool.py:102`), the same here: every image is classified correctly.
# - **Foolbox 3.3.4, DDN: no quantisation.** adv_lib and advlab round every iterate to the 8-bit grid
#   (`adv_lib/attacks/decoupled_direction_norm.py:109-110`, DDN Algorithm 1 line 12); Foolbox only
#   rescales and clips (`foolbox/attacks/ddn.py:152-155`), so its examples are not 8-bit images.
# - **advlab, C&W-L2 with its early abort: it stops too soon on short schedules.** Every `steps // 10`
#   iterations an image whose loss did not fall below 0.9999 × its loss at the previous check leaves
#   the round (`advlab/attacks/carlini_wagner.py`, `_tanh_adam_search`). With 25 iterations a round the
#   check comes every 2 steps, and Adam's loss is not monotone over 2 steps after the first success:
#   images stop at their first, large adversarial example. C&W's code and adv_lib end a round only
#   when the batch (summed, or every image) stops improving; with the abort off advlab's C&W matches
#   adv_lib's (the rows *advlab, early abort* above measure the cost of the default).
# - **adv_lib 0.2.8: advlab's algorithms.** DDN quantises as advlab does; `carlini_wagner_l2` differs
#   only in its early abort, which ends a round when no image improved (`adv_lib/attacks/carlini_wagner/l2.py:133-136`);
#   `df` applies the overshoot per step and returns the clean input for an image still not fooled after
#   the last step (`adv_lib/attacks/deepfool.py:62, 115-119`).

# %%
def gap_line(attack: str, implementation: str) -> str:
    rows = gaps[(gaps["attack"] == attack) & (gaps["implementation"] == implementation)]
    return "; ".join(f"{r['model']} {r['threat model']} ({r['budget']}, n = {r['images']}): {r['verdict']}"
                     for _, r in rows.iterrows())


for attack, implementation in gaps[["attack", "implementation"]].drop_duplicates().itertuples(index=False):
    display(Markdown(f"- **{attack}, {implementation}**: {gap_line(attack, implementation)}"))

# %% [markdown]
# ## What an iteration costs
#
# Per contender, the mean forward and backward passes per attacked image and the time of one
# counted backward pass in units of a bare forward+backward of the same batch in the same run
# (1.0: no overhead beyond the gradient; DeepFool and Algorithm 1-n count one backward per class).

# %%
cost = (scores.groupby(["attack", "implementation", "budget"], sort=False)
        [["forwards", "gradients", "time per gradient"]].mean().reset_index())
ctx.save("cost", cost)

# %% [markdown]
# ## What this chapter chose
#
# | choice | here | why |
# |---|---|---|
# | budget unit | gradient evaluations per image (backward passes, counted by hooks) | what every attack's cost is made of; a DeepFool or Algorithm 1-n step counts one per class |
# | C&W / EAD schedule | $\min(9, \max(1, \lfloor B/25 \rfloor))$ rounds of $\lfloor B/r \rfloor$ iterations | 4 × 25 at 100 is the DDN paper's short C&W; 9 rounds is C&W's and EAD's |
# | c₀ of C&W and EAD | 1 | the papers' 10⁻³ needs several rounds of × 10 before any success; at 1 × 25 it fools almost nothing |
# | early abort | off wherever it can be switched off; advlab's C&W also with it | the budget is the iterations; torchattacks' C&W cannot turn it off |
# | fixed-ε attacks | per-image bisection on $[0, \varepsilon_{\max}]$ (`min_eps_search`) | AttackBench's way of turning a fixed-ε attack into a minimal-norm one; ε_max is a parameter per dataset and threat model |
# | EAD rules | advlab: both from one run (L1 rule in L1, EN rule in L2); public: the L1 rule, in L1 | one run per rule costs the public ones twice |
# | best known | per model and threat model, over every attack and implementation run on it | AttackBench's reference; a stronger attack outside the pool would lower every score |
# | public implementations | their own code, the settings advlab's attack gets, their defaults otherwise; clean models only in the quick profile | the time budget (ART) |

# %%
ctx.finish()
print(f"chapter computed in {ctx.seconds():.0f} s (profile {profile!r}, {ctx.hardware})")


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
