"""Model zoo: manifests and hashes, clear errors for missing or corrupted checkpoints, a train → load round trip."""

import json
from dataclasses import MISSING, asdict, fields
import shutil

import pytest
import torch

import advlab
from advlab import data, zoo
from advlab.evaluate import accuracy, pgd_accuracy
from advlab.fileio import sha256sum
from advlab.training import augment
from advlab.zoo import architectures

ZOO = advlab.project_root() / "data" / "zoo"
COMMITTED = sorted(path.stem.rsplit(".", 1) for path in ZOO.glob("*.json"))
# Accuracy re-measured on the same 10,000 test images as recorded: only floating-point differences
# between machines (thread counts, kernels) can move a borderline prediction; 0.1 points = 10 images.
ACCURACY_TOLERANCE = 0.1


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A project root in tmp_path sharing the real MNIST files, with a copy of the zoo."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mnist").symlink_to(advlab.project_root() / "data" / "mnist")
    shutil.copytree(advlab.project_root() / "data" / "zoo", tmp_path / "data" / "zoo")
    monkeypatch.setenv("ADVLAB_HOME", str(tmp_path))
    return tmp_path


def test_the_clean_mnist_models_are_committed():
    assert {"mnist-smallcnn", "mnist-lenet5", "mnist-fcnn"} <= {name for name, recipe in COMMITTED if recipe == "quick"}


@pytest.mark.parametrize("name,recipe", COMMITTED)
def test_committed_checkpoint_matches_its_manifest(name, recipe):
    manifest = zoo.manifest(name, recipe)
    entry = zoo.ENTRIES[name]
    assert manifest["architecture"] == entry.architecture and manifest["dataset"] == entry.dataset
    assert zoo.checkpoint_path(name, recipe).stat().st_size < 5_000_000
    model = zoo.load(name, recipe)
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    test = data.load(entry.dataset, "test")
    assert 100 * accuracy(model, test.images, test.labels) == pytest.approx(manifest["test_accuracy"],
                                                                          abs=ACCURACY_TOLERANCE)


def test_every_checkpoint_file_belongs_to_a_manifest():
    """Checkpoints and PGN generators on disk are exactly those the manifests name, with their hashes."""
    expected = {}
    for name, recipe in COMMITTED:
        manifest = zoo.manifest(name, recipe)
        expected[f"{name}.{recipe}.pt"] = manifest["sha256"]
        if "generator_sha256" in manifest:
            expected[f"{name}.{recipe}.generator.pt"] = manifest["generator_sha256"]
    assert {path.name: sha256sum(path) for path in ZOO.glob("*.pt")} == expected


@pytest.mark.parametrize("name,recipe", COMMITTED)
def test_committed_checkpoint_was_trained_with_its_current_recipe(name, recipe):
    """The recorded settings equal the entry's recipe; a field added to the recipe class after the
    model was trained must still hold its default (the summary ``note`` may be reworded)."""
    recorded = zoo.manifest(name, recipe)["recipe_settings"]
    plan = zoo.ENTRIES[name].recipes[recipe]
    current = json.loads(json.dumps(asdict(plan)))
    defaults = json.loads(json.dumps({f.name: f.default for f in fields(plan) if f.default is not MISSING}))
    for key, value in current.items():
        if key != "note":
            assert recorded.get(key, defaults.get(key)) == value, key


def test_smallcnn_reaches_99_percent():
    manifest = zoo.manifest("mnist-smallcnn")
    assert manifest["test_accuracy"] >= 99.0 and manifest["test_samples"] == 10_000


def test_corrupted_checkpoint_is_refused(home):
    path = zoo.checkpoint_path("mnist-fcnn")
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(zoo.ZooError, match="corrupted.*advlab zoo train mnist-fcnn"):
        zoo.load("mnist-fcnn")
    assert zoo.table().set_index(["model", "recipe"]).loc[("mnist-fcnn", "quick"), "status"] == "CORRUPTED"


def test_missing_checkpoint_names_the_command_that_trains_it(home):
    zoo.checkpoint_path("mnist-lenet5").unlink()
    with pytest.raises(zoo.ZooError, match="advlab zoo train mnist-lenet5 --recipe quick"):
        zoo.load("mnist-lenet5")


def test_unknown_model_or_recipe_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown zoo model 'resnet'.*mnist-smallcnn"):
        zoo.load("resnet")
    with pytest.raises(ValueError, match="no recipe 'quick'.*full"):
        zoo.load("cifar10-wrn28-10")


def test_manifest_is_none_until_trained_and_names_unknown_models():
    assert ("cifar10-wrn28-10", "full") not in map(tuple, COMMITTED)
    assert zoo.manifest("cifar10-wrn28-10", "full") is None
    with pytest.raises(ValueError, match="unknown zoo model 'resnet'"):
        zoo.manifest("resnet")


def test_train_save_load_round_trip(home, monkeypatch):
    tiny = zoo.Recipe(epochs=1, lr=1e-3, optimizer="adam", train_subset=2048, note="tiny")
    entry = zoo.ENTRIES["mnist-fcnn"]
    monkeypatch.setitem(zoo.ENTRIES, "tiny-fcnn", zoo.ZooEntry("tiny-fcnn", "mnist", entry.architecture, entry.build,
                                                               ("tests",), {"quick": tiny}))
    manifest = zoo.train("tiny-fcnn", progress=False)
    for field in ("architecture", "dataset", "data_source", "recipe_settings", "epochs", "seed", "test_accuracy",
                  "training_seconds", "advlab_version", "sha256"):
        assert field in manifest
    assert manifest["data_source"].startswith("MNIST") and manifest["recipe_settings"]["train_subset"] == 2048
    assert manifest["test_accuracy"] > 50  # 16 Adam steps on 2,048 images: far above the 10 % of chance
    assert not list(zoo.zoo_dir().glob("*.tmp"))
    test = data.load("mnist", "test")
    assert 100 * accuracy(zoo.load("tiny-fcnn"), test.images, test.labels) == pytest.approx(manifest["test_accuracy"],
                                                                                           abs=0.01)
    assert zoo.manifest("tiny-fcnn") == manifest
    first = data.first_test_images("mnist", manifest["robust_images"])  # the library's fraction, as a percentage
    robust = pgd_accuracy(zoo.load("tiny-fcnn"), first.images, first.labels, manifest["robust_eps"])
    assert 0 < robust < 1 and manifest["robust_accuracy"] == round(100 * robust, 2)
    retrained = zoo.train("tiny-fcnn", progress=False)  # same seed, same CPU → same weights
    assert retrained["sha256"] == manifest["sha256"]


def test_augment_is_a_per_sample_shift_or_flip():
    images = torch.rand(16, 3, 8, 8)
    out = augment(images, torch.Generator().manual_seed(0), padding=2)
    assert out.shape == images.shape
    for original, shifted in zip(images, out):  # each output is a window of the padded (maybe flipped) image
        padded = torch.nn.functional.pad(original, (2,) * 4)
        windows = [p[:, i:i + 8, j:j + 8] for p in (padded, padded.flip(-1)) for i in range(5) for j in range(5)]
        assert any(torch.equal(shifted, w) for w in windows)


@pytest.mark.parametrize("name,parameters", [("cifar10-nin", (0.9e6, 1.0e6)), ("cifar10-densenet40", (0.95e6, 1.05e6))])
def test_convex_cifar10_models_classify_pixels_and_have_their_size(name, parameters):
    """The Convex paper's NIN (~0.97 M) and DenseNet-40 (~1.0 M, Huang et al. Table 2) on a [0,1] batch."""
    model = zoo.ENTRIES[name].build().eval()
    low, high = parameters
    assert low < sum(p.numel() for p in model.parameters()) < high
    logits = model(torch.rand(2, 3, 32, 32))
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()


@pytest.mark.parametrize("depth,growth", [(40, 12), (10, 4)])
def test_densenet_has_depth_weight_layers(depth, growth):
    """Initial conv, 3 × (depth − 4)/3 dense layers, two transition convs and the linear layer."""
    net = architectures.densenet(depth, growth)
    weighted = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(weighted) == depth and weighted[-1].in_features == 16 + (depth - 4) * growth


def test_densenet_rejects_other_depths():
    with pytest.raises(ValueError, match="depth must be 3n\\+4.*41"):
        architectures.densenet(41)


def test_nin_outputs_are_averaged_relu_class_maps():
    logits = architectures.nin().eval()(torch.randn(4, 3, 32, 32))
    assert logits.shape == (4, 10) and (logits >= 0).all() and (logits > 0).any()


def test_convex_cifar10_models_have_only_a_full_recipe():
    for name in ("cifar10-nin", "cifar10-densenet40"):
        entry = zoo.ENTRIES[name]
        assert entry.dataset == "cifar10" and entry.chapters == ("convex",) and set(entry.recipes) == {"full"}
        with pytest.raises(ValueError, match=f"model '{name}' has no recipe 'quick'"):
            zoo.load(name)
    densenet = zoo.ENTRIES["cifar10-densenet40"].recipes["full"]  # tensorpack's cifar10-densenet.py
    assert (densenet.epochs, densenet.lr, densenet.batch_size, densenet.milestones, densenet.weight_decay,
            densenet.augment) == (300, 0.1, 64, (150, 225), 1e-4, True)


def test_a_pgn_generator_loads_verified_and_a_corrupted_one_is_refused(home):
    generator = zoo.load_generator("cifar10-convpool16-pgn-cl0.2")
    assert not generator.training and generator.side == 8 and not any(p.requires_grad for p in generator.parameters())
    with pytest.raises(zoo.ZooError, match="not trained with a perturbation generator"):
        zoo.load_generator("mnist-fcnn")
    path = zoo.checkpoint_path("cifar10-convpool16-pgn-cl0.2").with_suffix(".generator.pt")
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(zoo.ZooError, match="corrupted.*advlab zoo train cifar10-convpool16-pgn-cl0.2"):
        zoo.load_generator("cifar10-convpool16-pgn-cl0.2")
