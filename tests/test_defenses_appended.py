"""EAD's adversarial training by appended examples (defenses.appended): what is appended, the cache, the errors."""

from dataclasses import replace

import pytest
import torch

import advlab
from advlab import data, zoo
from advlab.defenses.appended import AppendedExamples, train_appended, training_examples


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A project root in tmp_path with the real MNIST files and the source model (an empty example cache)."""
    (tmp_path / "data" / "zoo").mkdir(parents=True)
    (tmp_path / "data" / "mnist").symlink_to(advlab.project_root() / "data" / "mnist")
    for suffix in (".pt", ".json"):
        source = zoo.checkpoint_path("mnist-smallcnn").with_suffix(suffix)
        (tmp_path / "data" / "zoo" / source.name).symlink_to(source)
    monkeypatch.setenv("ADVLAB_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def small_train():
    train = data.load("mnist", "train")
    return replace(train, images=train.images[:300], labels=train.labels[:300])


SPEC = AppendedExamples(("ead-l1", "cw"), images=2, attack_kwargs={"search_steps": 1, "steps": 30, "initial_const": 10.0})


def test_examples_are_targeted_and_cached_once_per_ead_run(home, small_train):
    examples = training_examples(SPEC, "ead-l1", small_train)
    assert examples.shape == (2 * 9, 1, 28, 28) and 0 <= examples.min() and examples.max() <= 1
    cached = sorted(p.name.split("-")[1] for p in (home / "data" / "cache").glob("appended-*.pt"))
    assert cached == ["ead", "ead"]  # one EAD run stored both decision rules (EN and L1)
    model = zoo.load("mnist-smallcnn")
    targets = torch.tensor([t for label in small_train.labels[:2] for t in range(10) if t != label])
    with torch.no_grad():
        fooled = (model(examples).argmax(1) == targets).float().mean()
    assert fooled > 0.5  # c = 10 for 30 steps reaches most targets on this model
    assert torch.equal(training_examples(SPEC, "ead-l1", small_train), examples)  # read back, not recomputed


def test_appended_training_counts_and_rejects_cut_sets(home, small_train, tmp_path):
    entry = zoo.ENTRIES["mnist-retrained-ead-l1-cw-s0"]
    recipe = replace(entry.recipes["quick"], epochs=1, appended=SPEC)
    test = replace(data.load("mnist"), images=data.load("mnist").images[:200], labels=data.load("mnist").labels[:200])
    fields = train_appended(entry.build(), small_train, test, recipe, tmp_path / "m.pt", progress=False)
    assert fields["appended_examples"] == 2 * 2 * 9 and (tmp_path / "m.pt").exists()
    with pytest.raises(ValueError, match="train_subset and holdout"):
        train_appended(entry.build(), small_train, test, replace(recipe, holdout=10), tmp_path / "n.pt", progress=False)
    with pytest.raises(ValueError, match="unknown example attack"):
        training_examples(replace(SPEC, attacks=("fgm",)), "fgm", small_train)
