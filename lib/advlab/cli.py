"""The ``advlab`` command: run chapters, build the book, list and train zoo models, build and grade coursework."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from advlab import coursework, pipeline, zoo


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="advlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="execute one notebook with papermill into the book")
    run.add_argument("notebook", help="notebook name (notebooks/<name>.py)")
    run.add_argument("--profile", default="quick", choices=pipeline.PROFILES)
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                     help="override one parameter (repeatable)")
    run.add_argument("--force", action="store_true", help="run even if its inputs are unchanged since the last run")

    book = commands.add_parser("book", help="run every notebook, then build the HTML book (warnings are errors)")
    book.add_argument("--profile", default="quick", choices=pipeline.PROFILES)
    book.add_argument("--no-run", action="store_true", help="build from the notebooks already executed")
    book.add_argument("--force", action="store_true", help="run every notebook, even those whose inputs are unchanged")

    zoo_cmd = commands.add_parser("zoo", help="the model zoo")
    zoo_sub = zoo_cmd.add_subparsers(dest="zoo_command", required=True)
    zoo_sub.add_parser("list", help="print the zoo table")

    def model_command(command: str, help: str) -> argparse.ArgumentParser:  # acts on one model and recipe
        parser = zoo_sub.add_parser(command, help=help)
        parser.add_argument("name", choices=list(zoo.ENTRIES))
        parser.add_argument("--recipe", default="quick")
        return parser

    model_command("evaluate", "measure a model's robust accuracy into its manifest")
    train = model_command("train", "train one model from its recipe")
    train.add_argument("--device", default="cpu")
    train.add_argument("--nproc", type=int, default=1,
                       help="data-parallel processes on this machine (torchrun; gloo on CPU, NCCL on GPUs)")
    model_command("fetch", "download (or copy from ADVLAB_DATA_MIRROR) a release checkpoint, verified")
    publish = model_command("publish", "name the URL of an uploaded checkpoint in its manifest")
    publish.add_argument("--url", required=True, help="where the verified checkpoint file was uploaded")

    course = commands.add_parser("coursework", help="autograded assignments (coursework/): build, grade, check")
    course_sub = course.add_subparsers(dest="coursework_command", required=True)
    build = course_sub.add_parser("build", help="student notebooks and autograders under _build/coursework/")
    build.add_argument("names", nargs="*", metavar="NAME", help="assignments (default: all)")
    grade = course_sub.add_parser("grade", help="grade submissions (each sandboxed) into a CSV")
    grade.add_argument("name", metavar="NAME")
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION", help="notebooks, or folders of them")
    grade.add_argument("-o", "--output", required=True, help="the grades file (CSV), written when all are graded")
    grade.add_argument("--timeout", type=float, default=coursework.DEFAULT_TIMEOUT, help="seconds per submission")
    grade.add_argument("--memory-gb", type=float, default=coursework.DEFAULT_MEMORY_GB,
                       help="address-space limit per submission")
    check = course_sub.add_parser("check", help="grade the reference, the untouched notebook and the wrong answers")
    check.add_argument("names", nargs="*", metavar="NAME", help="assignments (default: all)")
    return parser


def _coursework(args) -> int:
    if args.coursework_command == "build":
        for name in args.names or coursework.names():
            target = coursework.build(name)
            print(f"{name}: {target.student} (students), {target.autograder} (grader)")
        return 0
    if args.coursework_command == "grade":
        def report(grade):
            print(f"{grade.submission}: {grade.score:g}/{grade.possible:g} in {grade.seconds:.1f} s — {grade.message}")
        coursework.grade(args.name, args.submissions, args.output, timeout=args.timeout, memory_gb=args.memory_gb,
                         progress=report)
        print(f"advlab: grades written to {args.output}")
        return 0
    failed = 0
    for name in args.names or coursework.names():
        for row in coursework.check(name):
            expected = ("full marks" if row.submission == "reference" else "0" if row.loses_on is None
                        else f"loses points on {row.loses_on}")
            verdict = "ok" if row.as_expected else "UNEXPECTED"
            failed += not row.as_expected
            print(f"{name:22} {row.submission:32} {row.grade.score:g}/{row.grade.possible:g} "
                  f"({row.grade.seconds:.1f} s) expected {expected}: {verdict}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            overrides = {key: pipeline.parse_value(value) for key, value in args.parameter}
            pipeline.run(args.notebook, args.profile, overrides, force=args.force)
        elif args.command == "coursework":
            return _coursework(args)
        elif args.command == "book":
            html = pipeline.book(args.profile, run_notebooks=not args.no_run, force=args.force)
            print(f"advlab: book built in {html}")
        elif args.zoo_command == "list":
            print(zoo.table().to_string(index=False))
        elif args.zoo_command == "fetch":
            print(f"{args.name} ({args.recipe}): {zoo.fetch(args.name, args.recipe)} (sha256 verified)")
        elif args.zoo_command == "publish":
            zoo.publish(args.name, args.recipe, args.url)
            print(f"{args.name} ({args.recipe}): manifest names {args.url}; commit the manifest, not the checkpoint")
        elif args.zoo_command == "evaluate":
            manifest = zoo.evaluate(args.name, args.recipe)
            print(f"{args.name} ({args.recipe}): robust accuracy {manifest['robust_accuracy']} % at L2 ε "
                  f"{manifest['robust_eps']} ({manifest['robust_attack']}, {manifest['robust_images']} test images)")
        elif args.nproc > 1:  # relaunch this command under torchrun, one process per shard
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={args.nproc}",
                       "-m", "advlab.cli", "zoo", "train", args.name, "--recipe", args.recipe, "--device", args.device]
            return subprocess.run(command).returncode
        else:
            manifest = zoo.train(args.name, args.recipe, device=args.device)
            if int(os.environ.get("RANK", "0")) != 0:  # a torchrun worker: process 0 reports
                return 0
            print(f"{args.name} ({args.recipe}): test accuracy {manifest['test_accuracy']} % "
                  f"in {manifest['training_seconds']} s → {zoo.checkpoint_path(args.name, args.recipe)}")
    except (pipeline.NotebookFailed, zoo.ZooError, coursework.CourseworkError, ValueError, RuntimeError) as error:
        print(f"advlab: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
