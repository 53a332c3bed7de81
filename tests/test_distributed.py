"""Data-parallel training on this CPU: 2 gloo processes launched by ``torchrun`` train (and adversarially train,
each process attacking its own shard) to the single-process weights with the same global batch, up to
floating-point reduction order; an interrupted distributed run resumes from its per-epoch state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = '''
import json, sys
from pathlib import Path
import torch
from torch import nn
from advlab import data
from advlab.training import Adversarial, Recipe, fit, process_group

out, adversarial, stop_after = Path(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3])
torch.set_num_threads(1)
train, test = data.first_test_images("mnist", 512), data.first_test_images("mnist", 128)
recipe = Recipe(epochs=3, lr=0.05, batch_size=64, seed=3,
                adversarial=Adversarial("fgm", 1.0, clean_weight=0.5) if adversarial else None)


def stop(epoch, metrics):
    if epoch == stop_after:
        raise SystemExit(3)  # an interruption after this epoch's state was written


with process_group("cpu"):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    result = fit(model, train, test, recipe, out, progress=False, on_epoch_end=stop if stop_after else None)
    if int(__import__("os").environ.get("RANK", "0")) == 0:
        out.with_suffix(".json").write_text(json.dumps(result))
'''


def train(tmp_path: Path, name: str, *, processes: int, adversarial: bool, stop_after: int = 0) -> int:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
                if processes > 1 else [sys.executable])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*launcher, str(script), str(tmp_path / f"{name}.pt"), str(int(adversarial)), str(stop_after)],
                          capture_output=True, text=True, env=env, timeout=300)
    if stop_after == 0:
        assert done.returncode == 0, done.stderr[-3000:]
    return done.returncode


def weights(tmp_path: Path, name: str) -> dict[str, torch.Tensor]:
    return torch.load(tmp_path / f"{name}.pt", weights_only=True)


@pytest.mark.parametrize("adversarial", [False, True], ids=["clean", "adversarial"])
def test_two_gloo_processes_match_one_process(tmp_path, adversarial):
    train(tmp_path, "single", processes=1, adversarial=adversarial)
    train(tmp_path, "ddp", processes=2, adversarial=adversarial)
    single, ddp = weights(tmp_path, "single"), weights(tmp_path, "ddp")
    for key in single:
        torch.testing.assert_close(ddp[key], single[key], rtol=1e-4, atol=1e-5)
    one, two = (json.loads((tmp_path / f"{name}.json").read_text()) for name in ("single", "ddp"))
    assert two["processes"] == 2 and one["processes"] == 1
    assert [e["loss"] for e in two["history"]] == pytest.approx([e["loss"] for e in one["history"]], abs=2e-4)
    assert two["test_accuracy"] == pytest.approx(one["test_accuracy"], abs=1.0)


def test_an_interrupted_distributed_run_resumes(tmp_path):
    train(tmp_path, "whole", processes=2, adversarial=False)
    assert train(tmp_path, "resumed", processes=2, adversarial=False, stop_after=1) != 0
    assert (tmp_path / "resumed.state").exists() and not (tmp_path / "resumed.pt").exists()
    train(tmp_path, "resumed", processes=2, adversarial=False)
    assert not (tmp_path / "resumed.state").exists()
    whole, resumed = weights(tmp_path, "whole"), weights(tmp_path, "resumed")
    for key in whole:
        torch.testing.assert_close(resumed[key], whole[key], rtol=0, atol=0)
    history = json.loads((tmp_path / "resumed.json").read_text())["history"]
    assert [e["epoch"] for e in history] == [1, 2, 3]


def test_a_batch_the_processes_cannot_share_is_refused(tmp_path, monkeypatch):
    """2 processes cannot split a global batch of 63: refused before any training."""
    from advlab import data, training

    monkeypatch.setattr(training, "rank_and_world", lambda: (0, 2))
    with pytest.raises(ValueError, match="not divisible by the 2 training processes"):
        training.fit(torch.nn.Linear(784, 10), data.first_test_images("mnist", 128), data.first_test_images("mnist", 8),
                     training.Recipe(epochs=1, lr=0.1, batch_size=63), tmp_path / "x.pt", progress=False)


def test_the_command_relaunches_itself_under_torchrun(monkeypatch):
    from advlab import cli

    launched = []
    monkeypatch.setattr(cli.subprocess, "run", lambda command: launched.append(command) or
                        subprocess.CompletedProcess(command, 0))
    assert cli.main(["zoo", "train", "mnist-fcnn", "--recipe", "full", "--nproc", "2"]) == 0
    command = launched[0]
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    assert command[5:] == ["-m", "advlab.cli", "zoo", "train", "mnist-fcnn", "--recipe", "full", "--device", "cpu"]


def test_recipes_with_their_own_loop_refuse_several_processes(monkeypatch):
    from advlab import training, zoo

    monkeypatch.setattr(training, "rank_and_world", lambda: (0, 2))
    monkeypatch.setattr("advlab.zoo.build.rank_and_world", lambda: (0, 2))
    pgn = next(name for name, entry in zoo.ENTRIES.items() if entry.trainer.__name__ == "train_pgn")
    with pytest.raises(ValueError, match="runs in one process only"):
        zoo.train(pgn, "quick", progress=False)
