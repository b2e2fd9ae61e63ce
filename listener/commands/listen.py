"""`receptor-planner listen`: run the worker until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import sys

import anyio
from loguru import logger

from listener.config import ConfigError, Settings, load_settings
from listener.logs import configure_logging
from listener.worker import Worker


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "Configured by environment variables: see docs/service.md."


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print("receptor-planner listen: invalid configuration:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    logger.configure(extra={"worker_id": settings.worker_id})  # on every record, run or not
    return anyio.run(_serve, settings)


async def _serve(settings: Settings) -> int:
    # Built inside the event loop: the worker owns anyio events and cancel scopes.
    return await Worker(settings).run()
