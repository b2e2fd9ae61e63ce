# receptor-planner worker: `docker build -t receptor-planner .`
# then `docker run -e DATABASE_URL=postgresql://... receptor-planner` (variables: README, "Configuration").

# --- build: resolve the locked dependencies into /app/.venv --------------------------------
FROM python:3.11-slim-bookworm AS build
# Same uv as the one that wrote uv.lock (lock revision 5), so `--frozen` reads it.
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first (a layer that survives code changes), exactly as locked in uv.lock.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY listener ./listener
COPY constraints ./constraints
COPY supabase ./supabase
RUN uv sync --frozen --no-dev --no-editable

# --- run: the interpreter, the virtualenv, nothing else ------------------------------------
FROM python:3.11-slim-bookworm
# tini as PID 1: forwards SIGTERM to the worker and reaps orphaned solver processes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 planner \
 && useradd --system --uid 10001 --gid planner --home-dir /nonexistent --shell /usr/sbin/nologin planner
COPY --from=build --chown=root:root /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PLANNER_LOG_FORMAT=json \
    PLANNER_HEALTH_FILE=/tmp/receptor-planner.health
USER planner
WORKDIR /tmp
# The health check reads the tick file the worker loop rewrites every few seconds.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["receptor-planner", "health"]
# Exec form, no shell in between: `docker stop`'s SIGTERM reaches the worker (via tini) and
# starts the graceful shutdown. Give it longer than PLANNER_SHUTDOWN_GRACE_S to finish
# (`docker stop -t 30`, Kubernetes terminationGracePeriodSeconds: 30).
ENTRYPOINT ["/usr/bin/tini", "--", "receptor-planner"]
CMD ["listen"]
