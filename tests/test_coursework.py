"""Coursework: every assignment builds, its student notebook leaks nothing, the reference scores full marks,
the untouched notebook 0, each wrong answer loses points on its question; untrusted submissions are graded
in a sandbox (a file that is not a notebook, a crash, a loop, a memory hog, one that tampers with files)."""

from __future__ import annotations

import hashlib
import re
import sysconfig
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from advlab import cli, coursework

NAMES = coursework.names()


@pytest.fixture(scope="module")
def built_root(tmp_path_factory) -> Path:
    """Every assignment built once, two at a time, into a temporary _build/coursework."""
    root = tmp_path_factory.mktemp("coursework")
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda name: coursework.build(name, root), NAMES))
    return root


@pytest.fixture(scope="module")
def checks(built_root) -> dict[str, list[coursework.Check]]:
    """``coursework.check`` of every assignment (two assignments graded at a time; each one sequentially)."""
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(NAMES, pool.map(lambda name: coursework.check(name, built_root), NAMES)))


def test_four_assignments_one_per_kind_each_with_three_wrong_answers():
    assert set(NAMES) >= {"norm-update", "minimal-norm-attack", "adversarial-training", "convex-closed-form"}
    for name in NAMES:
        master = coursework.master_path(name).read_text()
        questions = set(re.findall(r"^# name: (\w+)$", master, re.M))
        answers = coursework.wrong_answers(name)
        assert len(answers) >= 3, name
        assert {a.question for a in answers} <= questions, name


def test_student_notebooks_hold_no_solution_and_no_hidden_test(built_root):
    import jupytext

    for name in NAMES:
        master = jupytext.read(coursework.master_path(name))
        target = coursework.built(name, built_root)
        text = target.student.read_text()
        assert coursework.solution_lines(master) and coursework.hidden_test_names(master)
        assert not any(line in text for line in coursework.solution_lines(master)), name
        assert not any(test in text for test in coursework.hidden_test_names(master)), name
        assert target.autograder.name == f"{name}-autograder.zip"
        # the leak check itself: the solution notebook, passed off as a student notebook, is refused
        with pytest.raises(coursework.CourseworkError, match="leaks a solution line"):
            coursework.check_student_notebook(master, target.solution)


def test_reference_scores_full_marks(checks):
    for name, rows in checks.items():
        reference = rows[0]
        assert reference.submission == "reference"
        assert reference.grade.score == reference.grade.possible > 0, (name, reference.grade.message)


def test_untouched_student_notebook_scores_zero(checks):
    for name, rows in checks.items():
        untouched = rows[1]
        assert untouched.loses_on is None and untouched.grade.score == 0, (name, untouched.grade)


def test_each_wrong_answer_loses_points_on_its_question(checks):
    for name, rows in checks.items():
        wrong = rows[2:]
        assert len(wrong) == len(coursework.wrong_answers(name)) >= 3
        for row in wrong:
            g = row.grade
            assert g.questions[row.loses_on] < g.question_possible[row.loses_on], (name, row.submission, g)
            assert row.as_expected and row.loses_on in g.message, (name, row.submission, g.message)


def test_hidden_tests_refuse_the_library_reference(checks):
    """The wrong answers that call the library (directly or under another name) lose every point they touch."""
    cheats = {(name, row.submission): row.grade for name, rows in checks.items() for row in rows
              if row.submission.startswith("calls_")}
    assert cheats
    for (name, submission), g in cheats.items():
        assert "calls the library's reference" in g.message, (name, submission, g.message)


def test_untrusted_submissions_are_graded_in_a_sandbox(built_root, tmp_path):
    """Not a notebook, a crash, a loop, a memory hog and a tamperer each get 0 (or their fair score) and a
    message; the reference after them still scores full marks; the autograder, the library and the grades
    file are as the grader leaves them; nothing the submissions started survives."""
    name = "norm-update"
    target = coursework.built(name, built_root)
    grades_file = tmp_path / "grades.csv"
    library_file = Path(coursework.__file__).parent / "linear_models.py"
    marker = tmp_path / "still-running"
    site = Path(sysconfig.get_paths()["purelib"])
    assert not (site / "sitecustomize.py").exists()

    def submission(label: str, code: str | None = None, replace: str | None = None) -> Path:
        notebook = coursework.solution_with(name, replace, built_root)
        if code:
            notebook.cells.insert(3, nbformat.v4.new_code_cell(code))
        path = tmp_path / f"{label}.ipynb"
        nbformat.write(notebook, path)
        return path

    essay = tmp_path / "essay.ipynb"
    essay.write_text("DDN decouples the direction and the norm of the perturbation.")
    tamper = f"""
import pathlib, subprocess
pathlib.Path({str(grades_file)!r}).write_text("tamper.ipynb,12,12\\n")
pathlib.Path({str(target.autograder)!r}).write_bytes(b"not a zip")
with open({str(library_file)!r}, "a") as handle:
    handle.write("# tampered\\n")
pathlib.Path({str(tmp_path / 'reference.ipynb')!r}).write_text("overwritten")
pathlib.Path({str(site / 'sitecustomize.py')!r}).write_text("# runs in every later interpreter")
subprocess.Popen(["sh", "-c", "sleep 3; touch {marker}"])
"""
    submissions = [
        essay,
        submission("crash", "import os\nos._exit(3)"),
        submission("loop", "while True:\n    pass"),
        submission("memory", replace="def norm_update(eps, adversarial, gamma, worst_norm):\n"
                                     "    hog = bytearray(20 * 2**30)\n    return eps\n"),
        submission("tamper", tamper),
        submission("reference"),
    ]
    protected = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in (target.autograder, library_file)}
    grades = coursework.grade(name, submissions, grades_file, timeout=15, root=built_root)
    by_name = {Path(g.submission).stem: g for g in grades}

    assert by_name["essay"].score == 0 and "not a Jupyter notebook" in by_name["essay"].message
    assert by_name["crash"].score == 0 and "kernel died" in by_name["crash"].message
    assert by_name["loop"].score == 0 and "timed out after 15 s" in by_name["loop"].message
    memory = by_name["memory"]
    assert memory.questions["q1"] == 0 and memory.questions["q2"] == memory.question_possible["q2"]
    assert "MemoryError" in memory.message
    assert by_name["tamper"].score == 0 and "restored" in by_name["tamper"].message
    assert "sitecustomize.py (added)" in by_name["tamper"].message and not (site / "sitecustomize.py").exists()
    assert by_name["reference"].score == by_name["reference"].possible == 12
    for path, digest in protected.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path
    rows = grades_file.read_text().splitlines()
    assert rows[0].startswith("submission,score,possible,q1,q2,q3") and len(rows) == 1 + len(submissions)
    assert rows[-1].startswith(str(tmp_path / "reference.ipynb") + ",12.0,12.0")
    time.sleep(1)    # the reference, graded after the tamperer, took longer than its 3 s fuse
    assert not marker.exists(), "a process the submission started outlived its grading"


def test_own_function_refuses_imported_and_aliased_references():
    from advlab.attacks.ddn import norm_update

    namespace = {"__name__": "__main__"}
    exec("from advlab.attacks.ddn import norm_update as mine\n"
         "def helper(e, a, g, w):\n    return mine(e, a, g, w)\n"
         "def norm_update(e, a, g, w):\n    return helper(e, a, g, w)\n"
         "def fgm(x):\n    return x\n"
         "def attack(x):\n    return fgm(x)\n", namespace)
    with pytest.raises(AssertionError, match="not imported"):
        coursework.own_function(norm_update, "norm_update", {"norm_update"})
    with pytest.raises(AssertionError, match=r"calls the library's reference \(norm_update\)"):
        coursework.own_function(namespace["norm_update"], "norm_update", {"norm_update"})
    with pytest.raises(AssertionError, match="is not defined"):
        coursework.own_function(None, "norm_update", {"norm_update"})
    # the notebook's own function that happens to share a library name is the student's work
    assert coursework.own_function(namespace["attack"], "attack", coursework.LIBRARY_ATTACKS) is namespace["attack"]


def test_cli_grades_a_folder_and_names_a_missing_assignment_or_submission(capsys, built_root, monkeypatch, tmp_path):
    assert cli.main(["coursework", "grade", "no-such-assignment", "x.ipynb", "-o", "g.csv"]) == 1
    assert "no assignment 'no-such-assignment'" in capsys.readouterr().err
    monkeypatch.setattr(coursework, "build_dir", lambda: built_root)
    assert cli.main(["coursework", "grade", "norm-update", "missing.ipynb", "-o", "g.csv"]) == 1
    assert "submission missing.ipynb does not exist" in capsys.readouterr().err
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "essay.txt").write_text("an essay")
    assert cli.main(["coursework", "grade", "norm-update", str(folder), "-o", str(tmp_path / "g.csv")]) == 0
    assert "essay.txt,0.0,12.0" in (tmp_path / "g.csv").read_text() and "not a Jupyter notebook" in capsys.readouterr().out


def test_grades_csv_lists_every_question_in_order():
    grades = [coursework.Grade("a.ipynb", 3.0, 5.0, {"q10": 1.0, "q2": 2.0}, "m", 1.0),
              coursework.Grade("b.ipynb", 0.0, 5.0, {}, "not a notebook", 0.0)]
    lines = coursework.grades_csv(grades).splitlines()
    assert lines[0] == "submission,score,possible,q2,q10,seconds,message"
    assert lines[2] == "b.ipynb,0.0,5.0,0.0,0.0,0.0,not a notebook"
