"""The Makefile's setup, dry-run (``make -n``): the default installs exactly the lock; ``TORCH=cpu`` takes the CPU
build of the pinned torch from PyTorch's index without the lock's CUDA packages, in its own venv."""

from __future__ import annotations

import subprocess

import pytest

from advlab import project_root


def dry_run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-n", "env", *arguments], cwd=project_root(), capture_output=True, text=True)


def test_the_default_installs_the_lock_as_it_is(tmp_path):
    done = dry_run(f"VENV={tmp_path}/venv")
    assert done.returncode == 0, done.stderr
    assert "cat requirements.lock >" in done.stdout and "download.pytorch.org" not in done.stdout
    assert "--no-deps --no-build-isolation" in done.stdout


def test_torch_cpu_filters_the_cuda_packages_and_adds_the_cpu_index():
    done = dry_run("TORCH=cpu")
    assert done.returncode == 0, done.stderr
    assert "grep -v -E '^(nvidia-|cuda-|triton==)' requirements.lock" in done.stdout
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in done.stdout
    assert "-cpu/bin/pip install" in done.stdout  # a venv of its own, beside the default one
    lock = (project_root() / "requirements.lock").read_text().splitlines()
    kept = subprocess.run(["grep", "-v", "-E", "^(nvidia-|cuda-|triton==)"], input="\n".join(lock), text=True,
                          capture_output=True).stdout.splitlines()
    assert any(line.startswith("torch==") for line in kept) and not any(line.startswith("nvidia-") for line in kept)


@pytest.mark.parametrize("value", ["gpu", "cuda"])
def test_an_unknown_torch_build_is_refused(value):
    done = dry_run(f"TORCH={value}")
    assert done.returncode != 0 and "TORCH must be empty or cpu" in done.stderr
