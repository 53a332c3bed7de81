"""Coursework: autograded assignments drawn from the chapters, built and graded with otter-grader.

Each assignment is a Jupytext master ``coursework/<name>/<name>.py`` in otter's assign format (raw cells
``# BEGIN QUESTION`` …, exception-based tests, hidden ones only in the autograder) with known-wrong answers
beside it in ``coursework/<name>/wrong/*.py``. ``build`` writes the student notebook and the autograder
under ``_build/coursework/<name>/``; ``grade`` grades untrusted submissions, each in its own process and
throwaway folder with time and memory limits. The book's page "Coursework" is the instructors' guide.

The hidden tests call ``own_function`` (the student wrote it, without the library's reference) and
compare with the library: the steps the assignments ask for are the functions the book runs.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import torch
from torch import Tensor

from advlab import project_root
from advlab.fileio import atomic_write_text, replace_dir

DEFAULT_TIMEOUT = 600      # seconds per submission
DEFAULT_MEMORY_GB = 6.0    # address-space limit per submission (torch alone reserves about 1.5 GB)
# The library's DDN/ANU/EAD steps and the attacks that run them: coursework ``norm-update`` refuses them.
STEP_REFERENCES = frozenset({"norm_update", "gamma_update", "shrink", "ddn", "anu", "_norm_update_attack", "ead",
                             "ead_rules"})
# The library's attacks: an assignment that asks for an attack (or its inner maximisation) refuses them.
LIBRARY_ATTACKS = frozenset({"ddn", "anu", "_norm_update_attack", "carlini_wagner_l2", "elastic_net_cov", "ead",
                             "ead_rules", "fgm", "ifgm", "pgd", "mim", "min_eps_search", "deepfool", "alg1", "alg1_n",
                             "alg2", "random_sign", "adversarial_examples"})


class CourseworkError(RuntimeError):
    """An assignment that does not exist, is not built, or whose build failed."""


def source_dir() -> Path:
    return project_root() / "coursework"


def build_dir() -> Path:
    return project_root() / "_build" / "coursework"


def names() -> list[str]:
    """Every assignment: the folders of ``coursework/`` holding a master ``<name>/<name>.py``."""
    return sorted(p.parent.name for p in source_dir().glob("*/*.py") if p.stem == p.parent.name)


def master_path(name: str) -> Path:
    path = source_dir() / name / f"{name}.py"
    if not path.is_file():
        raise CourseworkError(f"no assignment {name!r}: expected {path}; assignments: {', '.join(names())}")
    return path


@dataclass(frozen=True)
class Built:
    """The outputs of ``build``: what students get, and what the grader uses."""

    name: str
    student: Path      # the student notebook: prompts, public tests, no solution
    solution: Path     # the reference solution notebook (all tests pass)
    autograder: Path   # otter's autograder zip (hidden tests)


def built(name: str, root: Path | None = None) -> Built:
    """The built assignment ``name`` under ``root`` (default ``_build/coursework``); it must exist."""
    master_path(name)
    folder = (root or build_dir()) / name
    zips = sorted((folder / "autograder").glob("*.zip"))
    result = Built(name, folder / "student" / f"{name}.ipynb", folder / "autograder" / f"{name}.ipynb",
                   zips[0] if zips else folder / "autograder" / "missing.zip")
    if not (result.student.is_file() and result.solution.is_file() and zips):
        raise CourseworkError(f"assignment {name!r} is not built in {folder}: run `advlab coursework build {name}`")
    return result


def build(name: str, root: Path | None = None) -> Built:
    """Build one assignment with ``otter assign`` (which also checks the solution against every test),
    then refuse to publish a student notebook that leaks a solution line or a hidden test."""
    import jupytext
    import nbformat

    master = master_path(name)
    root = root or build_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        notebook = jupytext.read(master)
        nbformat.write(notebook, staging / f"{name}.ipynb")
        dist = staging / "dist"
        done = subprocess.run([sys.executable, "-m", "otter", "assign", "--no-pdfs", f"{name}.ipynb", str(dist)],
                              cwd=staging, capture_output=True, text=True, env=_child_environment(staging))
        if done.returncode != 0:
            raise CourseworkError(f"otter assign failed for {name}:\n{_tail(done.stdout + done.stderr)}")
        check_student_notebook(notebook, dist / "student" / f"{name}.ipynb")
        for archive in (dist / "autograder").glob("*.zip"):      # otter stamps the time into the name
            archive.rename(archive.with_name(f"{name}-autograder.zip"))
        final = root / name
        replace_dir(dist, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return built(name, root)


def check_student_notebook(master, student_path: Path) -> None:
    """Raise if the student notebook contains a solution line, a solution marker, or a hidden test."""
    text = student_path.read_text()
    student = json.loads(text)
    sources = "\n".join("".join(cell["source"]) for cell in student["cells"])
    for line in solution_lines(master):
        if line in sources:
            raise CourseworkError(f"{student_path} leaks a solution line: {line!r}")
    if re.search(r"BEGIN\s+SOLUTION|END\s+SOLUTION|#\s*SOLUTION\b", sources):
        raise CourseworkError(f"{student_path} still contains a solution marker")
    for test in hidden_test_names(master):
        if test in text:
            raise CourseworkError(f"{student_path} contains the hidden test {test}")


def solution_lines(master) -> list[str]:
    """The substantive lines of the master's solutions (inside BEGIN/END SOLUTION or ending in # SOLUTION)."""
    lines, inside = [], False
    for cell in master.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            stripped = line.strip()
            if re.match(r"#\s*BEGIN\s+SOLUTION", stripped):
                inside = True
            elif re.match(r"#\s*END\s+SOLUTION", stripped):
                inside = False
            elif (inside or re.search(r"#\s*SOLUTION\s*$", stripped)) and len(stripped) >= 12 \
                    and not stripped.startswith("#"):
                lines.append(re.sub(r"\s*#\s*SOLUTION\s*$", "", stripped))
    return lines


def hidden_test_names(master) -> list[str]:
    """The function names of the master's hidden tests (``hidden: true`` in the test config)."""
    found = []
    for cell in master.cells:
        if cell.cell_type == "code" and re.search(r"BEGIN\s+TEST\s+CONFIG", cell.source) \
                and re.search(r"^\s*hidden:\s*true\s*$", cell.source, re.M | re.I):
            found += re.findall(r"^def\s+(\w+)\s*\(", cell.source, re.M)
    return found


# ---------------------------------------------------------------------------------------------------
# Grading untrusted submissions

@dataclass
class Grade:
    """One submission's result: score, per-question scores, and a message for the student."""

    submission: str
    score: float
    possible: float
    questions: dict[str, float] = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0
    question_possible: dict[str, float] = field(default_factory=dict)


def grade(name: str, submissions: Sequence[str | os.PathLike], output: str | os.PathLike | None = None, *,
          timeout: float = DEFAULT_TIMEOUT, memory_gb: float = DEFAULT_MEMORY_GB, root: Path | None = None,
          progress: Callable[[Grade], None] | None = None) -> list[Grade]:
    """Grade each submission (a notebook, or a folder: every file in it) with the autograder of ``name``;
    write a CSV to ``output`` (atomically, after the last one).

    Every submission runs in its own process group and throwaway folder, with ``timeout`` seconds and an
    address-space limit of ``memory_gb``; a crash, a loop, a memory blow-up or a file that is not a notebook
    gets a score of 0 and a message, and the others are still graded. Submissions, the autograder and the
    library are read before grading starts; a submission that modifies the autograder or the library on
    disk (or the MNIST files) scores 0 and the files are restored; the grades file is written after the last one.
    """
    target = built(name, root)
    possible = _possible_points(target.autograder)
    payloads = []
    for submission in submissions:
        path = Path(submission)
        if path.is_dir():       # a folder of submissions: every visible file in it
            payloads += [(p, p.read_bytes()) for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")]
        elif path.is_file():
            payloads.append((path, path.read_bytes()))
        else:
            raise CourseworkError(f"submission {path} does not exist")
    protected = {path: path.read_bytes() for path in [target.autograder, *_protected_files()]}
    listed = _watched_listing()

    grades = []
    for path, payload in payloads:
        result = _grade_one(name, str(path), payload, protected[target.autograder], possible, timeout, memory_gb)
        tampered = _restore(protected, listed)
        if tampered:
            result = Grade(result.submission, 0.0, possible, {q: 0.0 for q in result.questions},
                           f"modified {', '.join(tampered)} during grading (restored): 0 points",
                           result.seconds, result.question_possible)
        grades.append(result)
        if progress is not None:
            progress(result)
    if output is not None:
        atomic_write_text(output, grades_csv(grades))
    return grades


def grades_csv(grades: Iterable[Grade]) -> str:
    grades = list(grades)
    questions = sorted({q for g in grades for q in g.questions}, key=_question_order)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["submission", "score", "possible", *questions, "seconds", "message"])
    for g in grades:
        writer.writerow([g.submission, g.score, g.possible, *(g.questions.get(q, 0.0) for q in questions),
                         round(g.seconds, 1), g.message])
    return buffer.getvalue()


def _question_order(question: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", question))


def _protected_files() -> list[Path]:
    """What the hidden tests rely on besides the autograder: the library's code and the MNIST files."""
    package = Path(__file__).resolve().parent
    return sorted(package.rglob("*.py")) + sorted((project_root() / "data" / "mnist").glob("*"))


def _watched_listing() -> set[Path]:
    """Files whose mere appearance changes later Python processes: the library's folders and the top level
    of site-packages (a ``sitecustomize.py`` or ``.pth`` file there runs in every interpreter)."""
    import sysconfig

    package = Path(__file__).resolve().parent
    site = Path(sysconfig.get_paths()["purelib"])
    return set(package.rglob("*.py")) | {p for p in site.iterdir() if p.suffix in (".py", ".pth")}


def _restore(protected: dict[Path, bytes], listed: set[Path]) -> list[str]:
    """Put back every protected file that changed and remove watched files that appeared; name them."""
    changed = []
    for path, content in protected.items():
        if not path.is_file() or path.read_bytes() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            changed.append(path.name)
    for path in _watched_listing() - listed:
        path.unlink(missing_ok=True)
        changed.append(f"{path.name} (added)")
    return changed


def _possible_points(autograder: Path) -> float:
    """Total points of the autograder's tests (read from its test files, without running them)."""
    import zipfile

    total = 0.0
    with zipfile.ZipFile(autograder) as archive:
        for member in archive.namelist():
            if member.startswith("tests/") and member.endswith(".py"):
                total += sum(float(points) for points in
                             re.findall(r"@test_case\(points=([0-9.]+)", archive.read(member).decode()))
    return total


def _limits(memory_gb: float) -> Callable[[], None]:
    def apply() -> None:
        limit = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _child_environment(folder: Path) -> dict[str, str]:
    """The environment of a child process: temporary and Jupyter runtime files inside ``folder``."""
    tmp = folder / "tmp"
    tmp.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(tmp), JUPYTER_RUNTIME_DIR=str(tmp / "jupyter"),
               OMP_WAIT_POLICY="PASSIVE", PYDEVD_DISABLE_FILE_VALIDATION="1", MPLBACKEND="Agg")
    env["ADVLAB_HOME"] = str(project_root())
    return env


def _grade_one(name: str, label: str, payload: bytes, autograder: bytes, possible: float, timeout: float,
               memory_gb: float) -> Grade:
    import nbformat

    start = time.monotonic()
    try:
        nbformat.validate(nbformat.reads(payload.decode("utf-8"), as_version=4))
    except Exception as error:  # noqa: BLE001 - any reason a file is not a notebook
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return Grade(label, 0.0, possible, {}, f"not a Jupyter notebook ({reason[:120]}): 0 points")
    sandbox = Path(tempfile.mkdtemp(prefix="advlab-grade-"))
    try:
        (sandbox / "autograder.zip").write_bytes(autograder)
        submission = sandbox / f"{name}.ipynb"
        submission.write_bytes(payload)
        (sandbox / "out").mkdir()
        process = subprocess.Popen(
            [sys.executable, "-m", "otter", "run", "--no-logo", "-a", "autograder.zip", "-o", "out", submission.name],
            cwd=sandbox, env=_child_environment(sandbox), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_limits(memory_gb))
        try:
            log, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            return Grade(label, 0.0, possible, {}, f"timed out after {timeout:g} s: 0 points", time.monotonic() - start)
        finally:
            _kill_group(process)
        seconds = time.monotonic() - start
        results = sandbox / "out" / "results.json"
        if not results.is_file():
            text = log.decode(errors="replace")
            if re.search(r"MemoryError|can't allocate memory|Cannot allocate", text):
                why = f"ran out of memory (limit {memory_gb:g} GB)"
            elif "DeadKernelError" in text:
                why = "the notebook's kernel died (a cell exited or crashed the interpreter)"
            else:
                why = f"the grader could not run it ({_failure(text)})"
            return Grade(label, 0.0, possible, {}, f"{why}: 0 points", seconds)
        return _read_results(label, json.loads(results.read_text()), possible, seconds)
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_results(label: str, results: dict, possible: float, seconds: float) -> Grade:
    questions, lost, question_possible = {}, [], {}
    for test in results.get("tests", []):
        question = test.get("name", "?")
        score, max_score = float(test.get("score") or 0), float(test.get("max_score") or 0)
        if max_score == 0:      # otter's summary of the public tests, worth nothing on its own
            continue
        questions[question] = score
        question_possible[question] = max_score
        if score < max_score:
            lost.append(f"{question} {score:g}/{max_score:g}: {_failure(test.get('output', ''))}")
    score = sum(questions.values())
    message = "; ".join(lost) if lost else "all tests passed"
    if re.search(r"MemoryError|can't allocate memory", json.dumps(results)):
        message = "ran out of memory in a cell; " + message
    return Grade(label, score, possible, questions, message, seconds, question_possible)


def _failure(output: str) -> str:
    """The first error of a failed test's output (otter prints the traceback), on one line."""
    found = re.search(r"^[ \t]*(\w+(?:Error|Exception|Exit))(?::[ \t]*(.*))?$", output, re.M)
    if found is None:
        lines = output.strip().splitlines()
        return lines[-1].strip()[:200] if lines else "failed"
    kind, text = found.group(1), (found.group(2) or "").strip()
    return (text if kind == "AssertionError" and text else f"{kind}: {text}" if text else kind)[:200]


def _tail(text: str, limit: int = 2000) -> str:
    return text[-limit:].strip()


# ---------------------------------------------------------------------------------------------------
# Submissions made from the reference (tests, `advlab coursework check`)

def solution_with(name: str, replacement: str | None = None, root: Path | None = None):
    """The solution notebook, or, with ``replacement`` (Python source defining a function), the solution
    with the cell that defines that function replaced: a submission wrong in that question only."""
    import nbformat

    notebook = nbformat.read(built(name, root).solution, as_version=4)
    notebook.cells = [cell for cell in notebook.cells if not _is_hidden_test(cell)]
    if replacement is None:
        return notebook
    defined = re.findall(r"^def\s+(\w+)\s*\(", replacement, re.M)
    if not defined:
        raise CourseworkError("a wrong answer must define the function it replaces")
    for cell in notebook.cells:
        if cell.cell_type == "code" and re.search(rf"^def\s+{defined[0]}\s*\(", cell.source, re.M):
            cell.source = replacement
            return notebook
    raise CourseworkError(f"the solution of {name} defines no function {defined[0]}")


def _is_hidden_test(cell) -> bool:
    return cell.cell_type == "code" and bool(re.search(r"BEGIN\s+TEST\s+CONFIG", cell.source))


@dataclass(frozen=True)
class WrongAnswer:
    """A known-wrong answer kept beside an assignment: the question it must lose points on, and its code."""

    path: Path
    question: str
    source: str


def wrong_answers(name: str) -> list[WrongAnswer]:
    """``coursework/<name>/wrong/*.py``; each starts with a line ``# loses points on: <question>``."""
    answers = []
    for path in sorted((source_dir() / name / "wrong").glob("*.py")):
        source = path.read_text()
        found = re.match(r"#\s*loses points on:\s*(\w+)", source)
        if not found:
            raise CourseworkError(f"{path} must start with '# loses points on: <question>'")
        answers.append(WrongAnswer(path, found.group(1), source))
    return answers


@dataclass(frozen=True)
class Check:
    """One row of ``check``: a submission made from the reference, what it must score, and what it scored."""

    submission: str            # "reference", "untouched student notebook", or a wrong answer's file name
    loses_on: str | None       # the question a wrong answer must lose points on
    grade: Grade

    @property
    def as_expected(self) -> bool:
        g = self.grade
        if self.submission == "reference":
            return g.score == g.possible > 0
        if self.loses_on is None:
            return g.score == 0
        return g.questions.get(self.loses_on, 0.0) < g.question_possible.get(self.loses_on, math.inf)


def check(name: str, root: Path | None = None, timeout: float = DEFAULT_TIMEOUT) -> list[Check]:
    """Grade the reference solution, the untouched student notebook and every wrong answer of ``name``
    (``build`` first): the reference must score full marks, the untouched notebook 0, and each wrong answer
    must lose points on the question it names."""
    import nbformat

    target = built(name, root)
    with tempfile.TemporaryDirectory(prefix=f"advlab-check-{name}-") as folder:
        folder = Path(folder)
        cases = [("reference", None, folder / "reference.ipynb"), ("untouched student notebook", None, target.student)]
        nbformat.write(solution_with(name, root=root), cases[0][2])
        for answer in wrong_answers(name):
            path = folder / f"{answer.path.stem}.ipynb"
            nbformat.write(solution_with(name, answer.source, root), path)
            cases.append((answer.path.name, answer.question, path))
        grades = grade(name, [path for _, _, path in cases], timeout=timeout, root=root)
    return [Check(label, question, g) for (label, question, _), g in zip(cases, grades)]


# ---------------------------------------------------------------------------------------------------
# Helpers of the hidden tests (they run in the student's kernel)

def own_function(value, name: str, forbidden: Iterable[str]) -> Callable:
    """The student's function ``name``, checked: defined in the notebook (not taken from a library), and
    not calling a name in ``forbidden`` (the library's reference), directly or through its own helpers.

    Raises AssertionError with a message for the student otherwise. (A determined student can still get
    around this; the library is public, so the rest is the honour code.)
    """
    if value is None or value is Ellipsis:
        raise AssertionError(f"{name} is not defined: write the function {name}")
    if not isinstance(value, types.FunctionType) or value.__module__ != "__main__":
        raise AssertionError(f"{name} must be a function written in this notebook, not imported "
                             f"(found {getattr(value, '__module__', type(value).__name__)}.{name})")
    forbidden = set(forbidden)
    used = _names_used(value, forbidden, seen=set())
    if used & forbidden:
        raise AssertionError(f"{name} calls the library's reference ({', '.join(sorted(used & forbidden))}): "
                             f"implement it yourself")
    return value


def _names_used(function: types.FunctionType, forbidden: set[str], seen: set) -> set[str]:
    """Global and attribute names the function's code uses, through the notebook's own functions; a global
    bound to a library function is also reported under that function's own name (catches aliases)."""
    if function in seen:
        return set()
    seen.add(function)
    names_ = set()
    codes = [function.__code__]
    while codes:
        code = codes.pop()
        names_ |= set(code.co_names)
        codes += [const for const in code.co_consts if isinstance(const, types.CodeType)]
    for referenced in list(names_):
        value = function.__globals__.get(referenced)
        if isinstance(value, types.FunctionType) and value.__module__ == "__main__":
            names_.discard(referenced)          # the notebook's own function of that name
            names_ |= _names_used(value, forbidden, seen)
        elif str(getattr(value, "__module__", "")).startswith("advlab") and getattr(value, "__name__", "") in forbidden:
            names_.add(value.__name__)
    return names_



class CountingModel(torch.nn.Module):
    """Wraps a model and counts its forward calls (``calls``): the hidden tests hold an attack to its budget
    of model evaluations."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model
        self.calls = 0
        self.eval()

    def forward(self, x):
        self.calls += 1
        return self.model(x)


def linear_model_ratios(attack: Callable, seeds: Sequence[int] = (1, 3), images: int = 32, steps: int = 100,
                        budget: int = 200) -> Tensor:
    """Per image, ‖δ‖₂ / the exact optimum of ``attack`` (called with ``steps``) on 10-class linear models
    over 8×8 images (``advlab.linear_models``), ∞ where the image is not fooled; AssertionError if the
    attack evaluates the model more than ``budget`` times. Coursework ``minimal-norm-attack`` grades by it."""
    from advlab.linear_models import make_inputs, make_model, ratios

    found = []
    for seed in seeds:
        model = make_model((1, 8, 8), 10, scale=10.0, seed=seed)
        inputs, labels = make_inputs(model, (1, 8, 8), images, seed=seed + 1)
        counted = CountingModel(model)
        adversarial = attack(counted, inputs, labels, steps=steps)
        if counted.calls > budget:
            raise AssertionError(f"{counted.calls} model evaluations for steps={steps}: the budget is {budget}")
        if not isinstance(adversarial, Tensor) or adversarial.shape != inputs.shape:
            raise AssertionError("the attack must return adversarial images of the inputs' shape")
        with torch.no_grad():
            fooled = model(adversarial).argmax(1) != labels
        found.append(torch.where(fooled, ratios(model, inputs, adversarial, labels, 2), math.inf))
    return torch.cat(found)


def remeasured_robustness(model: torch.nn.Module, eps: float = 1.5, images: int = 500) -> dict:
    """Clean and robust accuracy of ``model`` on the first ``images`` MNIST test images, measured by the
    grader itself (never the student's numbers). An image counts as robust when it is classified correctly
    and neither L2 PGD-20 at ``eps`` (``evaluate.pgd_accuracy``'s setting) nor DeepFool (which works on logit
    differences, so a saturated softmax cannot hide a close boundary) finds an adversarial example within
    ``eps``. Returns Wilson estimates (``chapter.stats.Estimate``) under "clean" and "robust".
    Coursework ``adversarial-training`` grades by it."""
    from advlab import data
    from advlab.attacks import deepfool, pgd
    from advlab.chapter.stats import wilson

    test = data.first_test_images("mnist", images)
    x, y = test.images, test.labels
    model = model.eval()
    with torch.no_grad():
        correct = model(x).argmax(1) == y
    attacked = pgd(model, x, y, eps=eps, norm=2, steps=20, step_size=2.5 * eps / 20, random_init=False)
    closest = deepfool(model, x, y, norm=2)
    with torch.no_grad():
        broken = (model(attacked).argmax(1) != y) | (
            (model(closest).argmax(1) != y) & ((closest - x).flatten(1).norm(dim=1) <= eps))
    return {"clean": wilson(int(correct.sum()), len(y)), "robust": wilson(int((correct & ~broken).sum()), len(y))}


_TRAINED: dict = {}


def adversarial_training_result(train: Callable, *, seed: int = 2026, images: int = 4000, time_limit: float = 60.0,
                                eps: float = 1.5) -> dict:
    """Train a fresh ``fcnn(784, (128,), 10)`` (seeded by the grader) with the student's ``train`` on the first
    ``images`` MNIST training images within ``time_limit`` seconds, then ``remeasured_robustness`` at ``eps``.
    Cached per function, so the tests of one submission train once. Coursework ``adversarial-training``."""
    train = own_function(train, "train", LIBRARY_ATTACKS | {"fit", "recipe_loss"})
    if train in _TRAINED:
        return _TRAINED[train]
    from advlab import data
    from advlab.zoo.architectures import fcnn

    training = data.load("mnist", "train")
    torch.manual_seed(seed)
    model = fcnn(784, (128,), 10)
    shapes = [p.shape for p in model.parameters()]
    start = time.monotonic()
    trained = train(model, training.images[:images], training.labels[:images], torch.Generator().manual_seed(seed))
    seconds = time.monotonic() - start
    if seconds > time_limit:
        raise AssertionError(f"train took {seconds:.0f} s; the budget is {time_limit:.0f} s")
    if not isinstance(trained, torch.nn.Module) or [p.shape for p in trained.parameters()] != shapes:
        raise AssertionError("train must return the model it was given (same architecture), trained")
    _TRAINED[train] = {**remeasured_robustness(trained, eps), "seconds": seconds}
    return _TRAINED[train]


# The library's closed forms and solvers of the convex framework: coursework ``convex-closed-form`` refuses them.
CONVEX_REFERENCES = frozenset({"gnii_perturbation", "steepest_unit", "linearized_boundary_step", "linear_minimal_linf",
                               "runner_up_bound", "gnii_by_solver", "min_perturbation_by_solver", "deepfool", "alg1"})


def _convex_problems(seed: int, rows: int = 24, features: int = 30) -> Tensor:
    """Seeded gradients (rows, features), float64, with ties of the largest magnitude in some rows (p = 1)."""
    generator = torch.Generator().manual_seed(seed)
    grad = torch.randn(rows, features, dtype=torch.float64, generator=generator)
    grad[:4, :2] = grad[:4, :1].abs() + 3          # two equal largest entries
    grad[4] = 0.5 * grad[4].sign()                 # every entry ties
    return grad


def check_gnii_step(gnii_step: Callable, p: float, seed: int = 41) -> None:
    """Hidden test of coursework ``convex-closed-form`` q1: the student's (GNII) minimiser is feasible and its
    objective ηᵀ∇L equals CVXPY's optimum (``convex_theory.gnii_by_solver``) at per-row ε."""
    from advlab.convex_theory import gnii_by_solver

    student = own_function(gnii_step, "gnii_step", CONVEX_REFERENCES)
    grad = _convex_problems(seed)
    eps = torch.linspace(0.1, 2.0, grad.shape[0], dtype=torch.float64)
    eta = student(grad, eps, p)
    if not isinstance(eta, Tensor) or eta.shape != grad.shape:
        raise AssertionError(f"return η with grad's shape {tuple(grad.shape)}")
    norms = eta.double().norm(p=p, dim=1)
    if (norms > eps * (1 + 1e-6) + 1e-9).any():
        raise AssertionError(f"p = {p}: ‖η‖_p exceeds ε in {int((norms > eps * (1 + 1e-6)).sum())} rows")
    optimum, _ = gnii_by_solver(grad, torch.zeros(grad.shape[0], dtype=torch.float64), eps, p)
    objective = (eta.double() * grad).sum(1)
    if not torch.allclose(objective, optimum, rtol=1e-5, atol=1e-6):
        worst = (objective - optimum).abs().argmax().item()
        raise AssertionError(f"p = {p}: ηᵀ∇L = {objective[worst]:.6f} in row {worst}, the solver's minimum is "
                             f"{optimum[worst]:.6f}")


def check_minimal_step(minimal_step: Callable, p: float, seed: int = 42) -> None:
    """Hidden test of coursework ``convex-closed-form`` q2: the student's η reaches the linearised boundary
    (L + ηᵀ∇L ≤ 0) with the solver's smallest norm (``convex_theory.min_perturbation_by_solver``)."""
    from advlab.convex_theory import min_perturbation_by_solver

    student = own_function(minimal_step, "minimal_step", CONVEX_REFERENCES)
    grad = _convex_problems(seed)
    value = torch.linspace(0.05, 3.0, grad.shape[0], dtype=torch.float64)
    eta = student(grad, value, p)
    if not isinstance(eta, Tensor) or eta.shape != grad.shape:
        raise AssertionError(f"return η with grad's shape {tuple(grad.shape)}")
    reached = value + (eta.double() * grad).sum(1)
    if (reached > 1e-6 * value.abs().clamp_min(1)).any():
        raise AssertionError(f"p = {p}: L + ηᵀ∇L > 0 in {int((reached > 1e-6).sum())} rows: η must reach the boundary")
    smallest, _ = min_perturbation_by_solver(grad, value, p)
    norms = eta.double().norm(p=p, dim=1)
    if not torch.allclose(norms, smallest, rtol=1e-5, atol=1e-7):
        worst = (norms - smallest).abs().argmax().item()
        raise AssertionError(f"p = {p}: ‖η‖_p = {norms[worst]:.6f} in row {worst}, the solver's smallest is "
                             f"{smallest[worst]:.6f}")
