# syntax=docker/dockerfile:1
# One image for every citypulse service (migrate, ingest, detect, serve, simulator):
#   docker build -t citypulse .        docker run --rm citypulse --help
# Build stage: the citypulse wheel plus wheels of its pinned dependencies.
# Runtime stage: a virtual environment installed from those wheels only, run as a
# non-root user; no compiler, no pip cache, no source tree.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY deploy/constraints.txt deploy/constraints.txt
COPY citypulse citypulse
COPY simulator simulator
COPY ingest ingest
COPY detectors detectors
COPY appeals appeals
COPY connectors connectors
COPY grafana grafana
COPY console console
COPY lab lab
COPY sql sql
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && pip wheel --wheel-dir /wheels --constraint deploy/constraints.txt /wheels/citypulse-*.whl

FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/citypulse/bin:$PATH
RUN groupadd --system --gid 10001 citypulse \
 && useradd --system --uid 10001 --gid citypulse --home-dir /home/citypulse --create-home \
        --shell /usr/sbin/nologin citypulse
COPY --from=build /wheels /tmp/wheels
COPY deploy/constraints.txt /tmp/constraints.txt
RUN python -m venv /opt/citypulse \
 && /opt/citypulse/bin/pip install --no-index --find-links /tmp/wheels \
        --constraint /tmp/constraints.txt citypulse \
 && rm -rf /tmp/wheels /tmp/constraints.txt \
 && citypulse --help > /dev/null
USER citypulse:citypulse
WORKDIR /home/citypulse
ENTRYPOINT ["citypulse"]
CMD ["--help"]
