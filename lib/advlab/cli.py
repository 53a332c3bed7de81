"""The ``advlab`` command: run chapters, build the book, list and train zoo models."""

from __future__ import annotations

import argparse
import sys

from advlab import pipeline, zoo


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
    evaluate = zoo_sub.add_parser("evaluate", help="measure a model's robust accuracy into its manifest")
    evaluate.add_argument("name", choices=list(zoo.ENTRIES))
    evaluate.add_argument("--recipe", default="quick")
    train = zoo_sub.add_parser("train", help="train one model from its recipe")
    train.add_argument("name", choices=list(zoo.ENTRIES))
    train.add_argument("--recipe", default="quick")
    train.add_argument("--device", default="cpu")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            overrides = {key: pipeline.parse_value(value) for key, value in args.parameter}
            pipeline.run(args.notebook, args.profile, overrides, force=args.force)
        elif args.command == "book":
            html = pipeline.book(args.profile, run_notebooks=not args.no_run, force=args.force)
            print(f"advlab: book built in {html}")
        elif args.zoo_command == "list":
            print(zoo.table().to_string(index=False))
        elif args.zoo_command == "evaluate":
            manifest = zoo.evaluate(args.name, args.recipe)
            print(f"{args.name} ({args.recipe}): robust accuracy {manifest['robust_accuracy']} % at L2 ε "
                  f"{manifest['robust_eps']} ({manifest['robust_attack']}, {manifest['robust_images']} test images)")
        else:
            manifest = zoo.train(args.name, args.recipe, device=args.device)
            print(f"{args.name} ({args.recipe}): test accuracy {manifest['test_accuracy']} % "
                  f"in {manifest['training_seconds']} s → {zoo.checkpoint_path(args.name, args.recipe)}")
    except (pipeline.NotebookFailed, zoo.ZooError, ValueError, RuntimeError) as error:
        print(f"advlab: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
