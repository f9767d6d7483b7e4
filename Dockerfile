# syntax=docker/dockerfile:1
# One image for the API and the worker (and the one-shot migration job):
#   api:        uvicorn api.app:app --host 0.0.0.0 --port 8000   (the default command)
#   worker:     python worker.py
#   migrations: podnex migrate
#
# Every dependency installs from a binary wheel (--only-binary=:all:): ffmpeg comes in the
# imageio-ffmpeg wheel, espeak-ng and its voice data in the espeakng-loader wheel, libpq in
# psycopg[binary]. No compiler or -dev package is needed in either stage, and the final
# stage gets only the virtual environment and the source: no pip cache, no build
# front-end's leftovers, no apt packages beyond the slim base.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: a virtual environment with podnex and its dependencies --------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
# Dependencies first (they change less often than the code): install them from a stub of
# the package so this layer is cached across code changes.
COPY pyproject.toml README.md ./
RUN mkdir -p podnex api workflows activities \
    && touch podnex/__init__.py api/__init__.py workflows/__init__.py activities/__init__.py worker.py \
    && pip install --only-binary=:all: . \
    && pip uninstall --yes podnex \
    && rm -rf podnex api workflows activities worker.py build ./*.egg-info

# The application, installed in editable mode: the code stays in /app (migrations and
# alembic.ini beside it, where podnex.settings.PROJECT_ROOT finds them) and the `podnex`
# command is on PATH.
COPY alembic.ini worker.py ./
COPY podnex ./podnex
COPY api ./api
COPY workflows ./workflows
COPY activities ./activities
COPY migrations ./migrations
RUN pip install --no-deps --editable . \
    && python -m compileall -q podnex api workflows activities worker.py migrations

# -- runtime ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENVIRONMENT=production \
    LOG_FORMAT=json \
    VAR_DIR=/app/var

RUN groupadd --system --gid 10001 podnex \
    && useradd --system --uid 10001 --gid podnex --home-dir /app --shell /usr/sbin/nologin podnex

COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /app /app
RUN mkdir -p /app/var && chown podnex:podnex /app/var

WORKDIR /app
USER 10001:10001

# API port, worker metrics port, worker health port (as docker-compose.yml sets them).
EXPOSE 8000 9464 9465

# Both processes stop gracefully on SIGTERM: uvicorn drains requests, the worker lets
# running activities finish for WORKER_GRACEFUL_SHUTDOWN_SECONDS.
STOPSIGNAL SIGTERM
# The API logs one access line per request itself (with request id and user id), so
# uvicorn's own is off. Behind a proxy, set FORWARDED_ALLOW_IPS to its address (uvicorn
# reads it) so client addresses (per-address rate limits) come from X-Forwarded-For.
CMD ["uvicorn", "api.app:app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log"]
