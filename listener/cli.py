"""`receptor-planner` command line: one subcommand per module in `listener/commands/`."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help).
# Each module exposes `add_arguments(parser)` and `run(args) -> int`.
COMMANDS: dict[str, tuple[str, str]] = {
    "solve": ("listener.commands.solve", "solve a plan file offline and print the job lines"),
    "listen": ("listener.commands.listen", "run the worker: claim runs and solve them"),
    "demo": ("listener.commands.demo", "end-to-end demo on a throwaway local PostgreSQL"),
    "status": ("listener.commands.status", "workers, queue and recent failures"),
    "health": ("listener.commands.health", "exit non-zero when the worker loop is stale"),
    "report": ("listener.commands.report", "write the HTML plan report of a completed run"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """`only`: import just that command's module (the others are listed, not loaded), so a
    light command such as `health` (a Docker HEALTHCHECK) does not import the solver."""
    parser = argparse.ArgumentParser(prog="receptor-planner", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if only is not None and name != only:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            command_parser.set_defaults(_missing=module_name)
            continue
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    only = argv[0] if argv and argv[0] in COMMANDS else None
    args = build_parser(only).parse_args(argv)
    if getattr(args, "_missing", None):
        print(f"receptor-planner: '{args.command}' is not available in this build", file=sys.stderr)
        return 1
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
