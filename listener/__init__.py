"""receptor-planner worker service: events, pipeline, database I/O, logging, CLI."""
