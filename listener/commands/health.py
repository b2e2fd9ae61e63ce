"""`receptor-planner health`: exit 1 when this container's worker loop has not ticked lately.

Used by the Dockerfile HEALTHCHECK. It reads PLANNER_HEALTH_FILE, which the running worker
rewrites every few seconds; it never touches the database.
"""

from __future__ import annotations

import argparse
import json
import sys

from listener.config import ConfigError, load_settings
from listener.health import tick_age_s


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-age", type=float, default=None, help="seconds (default PLANNER_HEALTH_MAX_AGE_S)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(require_database=False)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    max_age = args.max_age if args.max_age is not None else settings.health_max_age_s
    age, state = tick_age_s(settings.health_file)
    if age is None:
        print(f"unhealthy: no tick file at {settings.health_file}", file=sys.stderr)
        return 1
    if age > max_age:
        print(f"unhealthy: last tick {age:.0f}s ago (limit {max_age:g}s)", file=sys.stderr)
        return 1
    print(json.dumps({"status": "healthy", "tick_age_s": round(age, 1), **state}))
    return 0
