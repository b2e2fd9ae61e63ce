"""`python -m listener` is `receptor-planner listen` (any other subcommand may follow)."""

import sys

from listener.cli import main

sys.exit(main(sys.argv[1:] or ["listen"]))
