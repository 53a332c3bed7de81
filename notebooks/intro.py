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
# # The data and the model zoo
#
# This chapter exercises the whole pipeline that every other chapter uses: it loads both datasets
# through `advlab.data`, shows a grid of their first test images with the data source they came
# from, and re-measures the test accuracy of every model in `advlab.zoo` against the accuracy
# recorded in its manifest when it was trained.

# %% tags=["parameters"]
profile = "quick"  # the profile that set these parameters (papermill overrides it)
results_dir = None  # where tables and figures are saved (the pipeline sets it)
grid_images = 32  # test images shown per dataset
accuracy_images = 10000  # test images used to re-measure each model's accuracy

# %%
import matplotlib.pyplot as plt
import torch

import advlab
from advlab import data, zoo
from advlab.results import Results, results_dir as default_results_dir
from advlab.evaluate import accuracy

results = Results(results_dir or default_results_dir("intro", profile))
print(f"advlab {advlab.__version__}, torch {torch.__version__}, profile {profile!r}")

# %% [markdown]
# ## The datasets
#
# Images are float tensors in $[0,1]$ of shape $(N, C, H, W)$; every model normalises its input
# itself, so attacks measure perturbations in pixel units. The papers attack *the first $n$ test
# images*, which is what `data.first_test_images` returns.

# %%
def sample_grid(dataset, columns=8):
    """A grid of the first images with their labels, titled with the data source."""
    rows = -(-len(dataset) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.5 * rows + 0.6))
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, dataset.images, dataset.labels):
        ax.imshow(image.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(dataset.classes[label], fontsize=8)
    fig.suptitle(f"First {len(dataset)} test images — source: {dataset.source}", fontsize=9)
    return fig


datasets = {name: data.first_test_images(name, grid_images) for name in ("mnist", "cifar10")}
for name, subset in datasets.items():
    print(f"{name}: {tuple(subset.images.shape)}, source: {subset.source}")
    results.figure(sample_grid(subset), f"{name}_samples")
    plt.show()

# %% [markdown]
# ## The model zoo
#
# Each checkpoint in `data/zoo/` is verified against the sha256 in its manifest before it is
# loaded. The table lists every model the chapters use; "recorded" is the test accuracy measured
# when the model was trained (full test set), "re-measured" is measured now on the first
# `accuracy_images` test images. "Robust accuracy" is the accuracy under an L2 PGD-20 attack on
# the cross-entropy at the bound ε of the DDN paper's Tables 5–6 (1.5 on MNIST, 0.5 on CIFAR-10),
# measured on the first 1000 test images when the model was trained. It is an upper bound: the
# distilled models' high values are gradient masking — their saturated softmax hides the gradient
# from PGD, and the EAD chapter breaks them with attacks on the logits. The recipes not trained
# here are listed below the table: the papers' full-scale recipes, meant for a GPU
# (`advlab zoo train NAME --recipe full --device cuda`), and quick ones no chapter needs yet.

# %%
everything = zoo.table()
zoo_table = everything[everything.status != "not trained"].reset_index(drop=True)
untrained = everything[everything.status == "not trained"]
print(f"{len(untrained)} recipes not trained here ({', '.join(sorted(set(untrained.recipe)))} profile): "
      + ", ".join(untrained.model + " (" + untrained.recipe + ")"))
test_sets = {}
remeasured = []
for row in zoo_table.itertuples():
    if row.status != "ok":
        remeasured.append(None)
        continue
    entry = zoo.ENTRIES[row.model]
    if entry.dataset not in test_sets:
        test_sets[entry.dataset] = data.first_test_images(entry.dataset, accuracy_images)
    test = test_sets[entry.dataset]
    remeasured.append(round(100 * accuracy(zoo.load(row.model, row.recipe), test.images, test.labels), 2))
zoo_table.insert(zoo_table.columns.get_loc("test accuracy (%)") + 1,
                 f"re-measured on {accuracy_images} images (%)", remeasured)
zoo_table = zoo_table.rename(columns={"test accuracy (%)": "recorded test accuracy (%)"})
results.table(zoo_table, "zoo")
zoo_table.style.hide(axis="index").format(precision=2, na_rep="–")
