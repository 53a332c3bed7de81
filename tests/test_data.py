"""Tests of advlab.data: checksums, shapes, provenance, the CIFAR-10 readers, mirror order and the cache."""

import gzip
import hashlib
import json
import os
import pickle
import re
import shutil
import tarfile

import numpy as np
import pytest
import torch

from advlab import data, project_root
from advlab.data import DataError, first_test_images, load
from advlab.fileio import sha256sum

SHARED = project_root().parent / "shared" / "data"
SUBSTITUTE = SHARED / "cifar10-jpeg"
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
SMALL = {"train": 3, "test": 5}  # images per batch in the generated official-format archive


def as_uint8(images: torch.Tensor) -> np.ndarray:
    return (images * 255).round().to(torch.uint8).numpy()


def same(ds, arrays) -> bool:
    """Whether ``ds`` holds exactly these uint8 images and labels."""
    images, labels = arrays
    return np.array_equal(as_uint8(ds.images), images) and ds.labels.tolist() == labels.tolist()


# --- MNIST --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "split, counts, first_label", [("train", MNIST_TRAIN_COUNTS, 5), ("test", MNIST_TEST_COUNTS, 7)]
)
def test_mnist(split, counts, first_label):
    for file in data.MNIST_FILES[split]:
        assert sha256sum(project_root() / "data" / "mnist" / file) == data.MNIST_SHA256[file]
    ds = load("mnist", split)
    assert (ds.name, ds.split, ds.source) == ("mnist", split, "MNIST (official IDX files, sha256-verified)")
    assert ds.images.shape == (sum(counts), 1, 28, 28) and len(ds) == sum(counts)
    assert ds.images.dtype == torch.float32 and ds.labels.dtype == torch.int64
    assert ds.images.min() == 0 and ds.images.max() == 1
    assert torch.bincount(ds.labels).tolist() == counts
    assert ds.labels[0] == first_label and ds.classes == tuple("0123456789")


def test_first_test_images_mnist():
    full, first = load("mnist"), first_test_images("mnist", 7)
    assert len(first) == 7 and first.source == full.source
    assert torch.equal(first.images, full.images[:7]) and torch.equal(first.labels, full.labels[:7])


def test_bad_arguments_name_the_allowed_values():
    with pytest.raises(ValueError, match="allowed: mnist, cifar10"):
        load("svhn")
    with pytest.raises(ValueError, match="allowed: train, test"):
        load("mnist", "val")
    for n in (0, 10_001):
        with pytest.raises(ValueError, match=r"1\.\.10000"):
            first_test_images("mnist", n)


@pytest.fixture
def mnist_copy(tmp_path, monkeypatch):
    """A project root in tmp_path with a copy of MNIST's test files; returns the images file."""
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for file in data.MNIST_FILES["test"]:
        shutil.copy(project_root() / "data" / "mnist" / file, folder / file)
    monkeypatch.setenv("ADVLAB_HOME", str(tmp_path))
    return folder / data.MNIST_FILES["test"][0]


def flip_byte(path, offset):
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


def truncate(path, keep=0.5):
    path.write_bytes(path.read_bytes()[: int(path.stat().st_size * keep)])


@pytest.mark.parametrize("damage", [lambda p: flip_byte(p, 1000), truncate], ids=["corrupt", "partial"])
def test_mnist_damaged_file_fails_its_checksum(mnist_copy, damage):
    assert load("mnist").images.shape[0] == 10_000  # the copy itself is good
    damage(mnist_copy)
    with pytest.raises(DataError, match=rf"{re.escape(str(mnist_copy))}: sha256 .* corrupt or partial"):
        load("mnist")


@pytest.mark.parametrize(
    "rewrite, problem",
    [
        (lambda raw: raw[: len(raw) // 2], "not a readable gzip file"),
        (lambda raw: gzip.compress(gzip.decompress(raw)[:-100], compresslevel=1), r"truncated\?"),
        (
            lambda raw: gzip.compress(b"\0\0\x08\x01" + gzip.decompress(raw)[4:], compresslevel=1),
            "IDX magic number 0x0801, expected 0x0803",
        ),
    ],
    ids=["gzip-truncated", "idx-truncated", "wrong-magic"],
)
def test_mnist_idx_parser_rejects_bad_files(mnist_copy, monkeypatch, rewrite, problem):
    """With the checksum made to match, the IDX parser itself must still refuse the file."""
    mnist_copy.write_bytes(rewrite(mnist_copy.read_bytes()))
    monkeypatch.setitem(data.MNIST_SHA256, mnist_copy.name, sha256sum(mnist_copy))
    with pytest.raises(DataError, match=rf"{re.escape(str(mnist_copy))}: .*{problem}"):
        load("mnist")


# --- CIFAR-10: the official format, on a small generated archive -----------------------------


def write_official(folder, seed=0):
    """A small CIFAR-10 in the official python format: the extracted folder and the .tar.gz."""
    rng = np.random.default_rng(seed)
    batches = {}
    for split, names in data.CIFAR10_BATCHES.items():
        for name in names:
            rows = rng.integers(0, 256, (SMALL[split], 3072), dtype=np.uint8)
            batches[name] = {"batch_label": name, "data": rows, "labels": rng.integers(0, 10, SMALL[split]).tolist()}
    extracted = folder / data.CIFAR10_FOLDER
    extracted.mkdir(parents=True)
    for name, batch in batches.items():
        (extracted / name).write_bytes(pickle.dumps(batch))
    (extracted / "batches.meta").write_bytes(pickle.dumps({"label_names": list(data.CLASSES["cifar10"])}))
    with tarfile.open(folder / data.CIFAR10_ARCHIVE, "w:gz") as archive:
        archive.add(extracted, arcname=data.CIFAR10_FOLDER)
    expected = {
        split: (
            np.concatenate([batches[name]["data"] for name in names]).reshape(-1, 3, 32, 32),
            np.concatenate([batches[name]["labels"] for name in names]),
        )
        for split, names in data.CIFAR10_BATCHES.items()
    }
    return folder / data.CIFAR10_ARCHIVE, expected


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def official(tmp_path):
    """(mirror folder, archive, expected arrays per split) of a generated official-format CIFAR-10."""
    archive, expected = write_official(tmp_path / "official")
    return archive.parent, archive, expected


@pytest.mark.parametrize("split", data.SPLITS)
def test_official_readers(official, split):
    _, archive, expected = official
    md5s = {file.name: md5(file) for file in (archive.parent / data.CIFAR10_FOLDER).iterdir()}
    for images, labels in (
        data.read_cifar10_archive(archive, split, md5=md5(archive)),
        data.read_cifar10_batches(archive.parent / data.CIFAR10_FOLDER, split, md5s=md5s),
    ):
        assert images.shape == (5 * SMALL[split] if split == "train" else SMALL[split], 3, 32, 32)
        assert np.array_equal(images, expected[split][0]) and np.array_equal(labels, expected[split][1])


def test_official_readers_refuse_bad_files(official, tmp_path):
    _, archive, _ = official
    with pytest.raises(DataError, match=rf"{re.escape(str(archive))}: md5 .* corrupt or partial"):
        data.read_cifar10_archive(archive, "test", md5=data.CIFAR10_MD5)
    batch = archive.parent / data.CIFAR10_FOLDER / "test_batch"
    with pytest.raises(DataError, match=rf"{re.escape(str(batch))}: md5"):
        data.read_cifar10_batches(batch.parent, "test", md5s=data.CIFAR10_BATCH_MD5)
    partial = tmp_path / "partial.tar.gz"
    partial.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DataError, match=rf"{re.escape(str(partial))}: not a readable .tar.gz"):
        data.read_cifar10_archive(partial, "train", md5=None)
    truncate(batch)
    with pytest.raises(DataError, match=rf"{re.escape(str(batch))}: not a CIFAR-10 batch"):
        data.read_cifar10_batches(batch.parent, "test", md5s=None)


def empty_substitute(folder):
    """A substitute folder that fails as soon as it is used: proves it was not chosen."""
    (folder / data.SUBSTITUTE_FOLDER).mkdir(parents=True)
    return folder


def test_official_archive_preferred_to_substitute_and_cached(official, tmp_path, monkeypatch):
    mirror, archive, expected = official
    monkeypatch.setattr(data, "CIFAR10_MD5", md5(archive))
    monkeypatch.setenv("ADVLAB_HOME", str(tmp_path / "home"))  # the default cache folder
    substitute = empty_substitute(tmp_path / "sub")
    monkeypatch.setenv(data.MIRROR_ENV, os.pathsep.join([str(substitute), str(mirror)]))
    ds = load("cifar10", "test")
    assert ds.source == "CIFAR-10 (official python version, md5-verified)"
    assert same(ds, expected["test"])
    cached = tmp_path / "home" / "data" / "cache" / "cifar10-test-official.npy"
    meta = json.loads(cached.with_suffix(".json").read_text())
    assert meta["sha256"] == sha256sum(cached) and meta["source"] == ds.source and meta["origin"] == str(archive)
    archive.unlink()  # the cache alone now serves it
    again = load("cifar10", "test", mirrors=[])
    assert again.source == ds.source and torch.equal(again.images, ds.images) and torch.equal(again.labels, ds.labels)


def test_corrupt_official_archive_is_an_error_not_a_fallback(official, tmp_path):
    mirror, archive, _ = official
    with pytest.raises(DataError, match=rf"{re.escape(str(archive))}: md5 .* was not used"):
        load("cifar10", "test", cache_dir=tmp_path / "cache", mirrors=[empty_substitute(mirror)])
    assert not (tmp_path / "cache").exists()


def test_extracted_batches_in_a_mirror(official, tmp_path, monkeypatch):
    mirror, archive, expected = official
    archive.unlink()
    monkeypatch.setattr(data, "CIFAR10_BATCH_MD5", {f.name: md5(f) for f in (mirror / data.CIFAR10_FOLDER).iterdir()})
    ds = load("cifar10", "train", cache_dir=tmp_path / "cache", mirrors=mirror)
    assert ds.source == data.CIFAR10_SOURCE and same(ds, expected["train"])


@pytest.mark.parametrize("damage", ["array", "sidecar"])
def test_corrupt_cache_entry_is_rebuilt(official, tmp_path, monkeypatch, damage):
    mirror, archive, expected = official
    monkeypatch.setattr(data, "CIFAR10_MD5", md5(archive))
    cache = tmp_path / "cache"
    load("cifar10", "test", cache_dir=cache, mirrors=[mirror])
    array = cache / "cifar10-test-official.npy"
    if damage == "array":
        flip_byte(array, array.stat().st_size - 1)
    else:
        array.with_suffix(".json").write_text("{not json")
    with pytest.warns(UserWarning, match=rf"{re.escape(str(array))}: invalid cache entry"):
        ds = load("cifar10", "test", cache_dir=cache, mirrors=[mirror])
    assert same(ds, expected["test"])
    assert json.loads(array.with_suffix(".json").read_text())["sha256"] == sha256sum(array)


def test_official_download_through_torchvision(official, tmp_path, monkeypatch):
    """Without cache or mirror, torchvision's CIFAR10(download=True) is used (stubbed: no network here)."""
    import torchvision

    _, _, expected = official
    calls = []

    class FakeCIFAR10:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            images, labels = expected["train" if train else "test"]
            self.data, self.targets = images.transpose(0, 2, 3, 1), labels.tolist()  # torchvision's HWC

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    ds = load("cifar10", "train", cache_dir=tmp_path / "cache", mirrors=[])
    assert calls == [(tmp_path / "cache", True, True)] and ds.source == data.CIFAR10_SOURCE
    assert same(ds, expected["train"])
    meta = json.loads((tmp_path / "cache" / "cifar10-train-official.json").read_text())
    assert meta["origin"] == "torchvision download"


def test_nothing_found_names_what_was_searched(tmp_path, monkeypatch):
    def offline(cache_dir, split):
        raise OSError("network unreachable")

    monkeypatch.setattr(data, "_download_cifar10", offline)
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    with pytest.raises(DataError) as error:
        load("cifar10", "train", cache_dir=tmp_path / "cache", mirrors=[tmp_path / "nowhere", tmp_path])
    message = str(error.value)
    for part in (
        f"{tmp_path / 'cache'}/cifar10-train-", f"{tmp_path / 'nowhere'} (no such folder)", "network unreachable",
        "ADVLAB_DATA_MIRROR", "cifar-10-python.tar.gz", "cifar10-jpeg/",
    ):
        assert part in message
    with pytest.raises(DataError, match=r"none: \$ADVLAB_DATA_MIRROR is not set"):
        load("cifar10", cache_dir=tmp_path / "cache")


# --- CIFAR-10: the offline JPEG substitute ---------------------------------------------------

needs_substitute = pytest.mark.skipif(not SUBSTITUTE.is_dir(), reason=f"no CIFAR-10-JPEG substitute at {SUBSTITUTE}")


@pytest.fixture(scope="module")
def substitute_cache(tmp_path_factory):
    """One cache folder shared by the substitute tests: each split is decoded once per run."""
    return tmp_path_factory.mktemp("cifar10-cache")


@pytest.fixture(scope="module")
def reference():
    labels = json.loads((SUBSTITUTE / "official_labels.json").read_text())
    exact = np.load(SUBSTITUTE / "test_first1017_exact_uint8.npy").reshape(-1, 3, 32, 32)
    return labels, exact


@needs_substitute
@pytest.mark.parametrize("split", data.SPLITS)
def test_substitute(substitute_cache, reference, split):
    labels, exact = reference
    ds = load("cifar10", split, cache_dir=substitute_cache, mirrors=[SHARED])
    size = data.CIFAR10_SIZES[split]
    assert ds.images.shape == (size, 3, 32, 32) and ds.images.dtype == torch.float32 and ds.labels.dtype == torch.int64
    assert 0 <= ds.images.min() and ds.images.max() <= 1 and ds.images.std() > 0.1
    assert torch.bincount(ds.labels).tolist() == [size // 10] * 10 and ds.labels.tolist() == labels[split]
    assert ds.classes[0] == "airplane" and ds.classes[9] == "truck"
    if split == "test":
        assert ds.source == data.SUBSTITUTE_TEST_SOURCE and "0–1016" in ds.source
        assert np.array_equal(as_uint8(ds.images[:1017]), exact)
    else:
        assert ds.source == "CIFAR-10-JPEG substitute (lossy re-encoding, PSNR ≈ 30 dB; not CIFAR-10)"
    assert "not CIFAR-10" in ds.source and (substitute_cache / f"cifar10-{split}-substitute.npy").is_file()


@needs_substitute
def test_substitute_order_matches_the_exact_images(reference):
    """The JPEG decoded at official positions 0..1016 (before replacement) is those images, lossily."""
    labels, exact = reference
    decoded = data._decode_jpegs(SUBSTITUTE / "cifar10-jpeg.tar.gz", "test", np.array(labels["test"]))
    psnr = [psnr_db(decoded[:1017], exact), psnr_db(decoded[1:1018], exact)]
    assert psnr[0].min() > 20 and 29 < np.median(psnr[0]) < 33  # README: median 30.5, min 23
    assert np.median(psnr[1]) < 15  # each image's neighbour does not match: the test can fail


def psnr_db(images, reference):
    error = (images.astype(np.float64) - reference) / 255
    return -10 * np.log10((error**2).reshape(len(images), -1).mean(axis=1))


@needs_substitute
def test_first_test_images_cifar10_substitute(substitute_cache):
    kw = dict(cache_dir=substitute_cache, mirrors=[SHARED])
    full = load("cifar10", **kw)
    exact, lossy = first_test_images("cifar10", 1017, **kw), first_test_images("cifar10", 1018, **kw)
    assert exact.source == "CIFAR-10 (the first 1017 official test images, pixel-exact, from the offline mirror)"
    assert lossy.source == data.SUBSTITUTE_TEST_SOURCE
    assert torch.equal(lossy.images, full.images[:1018]) and torch.equal(exact.labels, full.labels[:1017])


@needs_substitute
@pytest.mark.parametrize("file", ["official_labels.json", "test_first1017_exact_uint8.npy"])
@pytest.mark.parametrize("damage", [lambda p: flip_byte(p, 200), truncate], ids=["corrupt", "partial"])
def test_substitute_damaged_file(tmp_path, file, damage):
    mirror = tmp_path / "mirror"
    copy = mirror / data.SUBSTITUTE_FOLDER
    copy.mkdir(parents=True)
    for name in data.SUBSTITUTE_SHA256:
        if name == file:
            shutil.copy(SUBSTITUTE / name, copy / name)
        else:
            (copy / name).symlink_to(SUBSTITUTE / name)
    damage(copy / file)
    with pytest.raises(DataError, match=rf"{re.escape(str(copy / file))}: sha256 .* corrupt or partial"):
        load("cifar10", "test", cache_dir=tmp_path / "cache", mirrors=[mirror])
