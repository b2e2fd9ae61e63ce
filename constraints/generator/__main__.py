"""Write plan files in validate.py's layout:

    python -m constraints.generator --family DIR [--seed N] [--max-lines N]
    python -m constraints.generator --shapes DIR --count N [--seed N] [--max-lines N]

`--family` writes the named benchmark family, `--shapes` that many random shapes."""

from __future__ import annotations

import argparse
from pathlib import Path

from constraints.generator.family import write_family
from constraints.generator.shapes import write_shapes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m constraints.generator")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--family", type=Path, help="write the family into this directory")
    where.add_argument("--shapes", type=Path, help="write random shapes into this directory")
    parser.add_argument("--count", type=int, default=40, help="random shapes to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-lines", type=int, default=None, help="only plans this small")
    args = parser.parse_args(argv)
    if args.family is not None:
        paths = write_family(args.family, args.seed, args.max_lines)
    else:
        paths = write_shapes(args.shapes, args.count, args.seed, args.max_lines or 400)
    for path in paths:
        print(path)


if __name__ == "__main__":
    main()
