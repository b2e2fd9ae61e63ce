"""`python -m constraints.generator --family DIR [--seed N] [--max-lines N]`: write the family."""

from __future__ import annotations

import argparse
from pathlib import Path

from constraints.generator.family import write_family


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m constraints.generator")
    parser.add_argument("--family", type=Path, required=True, help="directory to write into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-lines", type=int, default=None, help="only members this small")
    args = parser.parse_args(argv)
    for path in write_family(args.family, args.seed, args.max_lines):
        print(path)


if __name__ == "__main__":
    main()
