# syntax=docker/dockerfile:1
# The correlator worker image.
#
#   docker build -t correlator .
#   docker run --rm -p 6066:6066 -e CORRELATOR_BROKER=kafka://kafka:9092 correlator
#
# Stage 1 builds a wheel of correlator and of every dependency; stage 2 installs them
# into a slim runtime with no compiler, no pip cache and no source tree, and runs as
# an unprivileged user. The Online Boutique sample topology is baked in at
# /etc/correlator/topology.yaml; mount your own file (or a ConfigMap directory) there.
# The worker re-reads that file when it changes, so no restart is needed.

ARG PYTHON_VERSION=3.11

# ---- build: wheels -------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS build
# A compiler, only here, for any dependency that ships no wheel for this platform.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# pyproject names README.md as the package's long description: the build needs it.
COPY pyproject.toml README.md ./
COPY correlator ./correlator
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# ---- runtime -------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime
LABEL org.opencontainers.image.title="correlator" \
      org.opencontainers.image.description="Kafka-native event correlation: alert storms in, business-impact events out." \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# Only the wheels enter this stage, through a mount: no layer keeps them.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels correlator
RUN groupadd --system --gid 10001 correlator \
    && useradd --system --uid 10001 --gid correlator --no-create-home \
       --home-dir /var/lib/correlator --shell /usr/sbin/nologin correlator \
    && install -d -o correlator -g correlator -m 0750 /var/lib/correlator
COPY --chmod=0644 topologies/online-boutique/topology.yaml /etc/correlator/topology.yaml
# Every flag of `correlator worker` is also a CORRELATOR_<FLAG> variable; these are the
# ones an image must fix. The broker (CORRELATOR_BROKER, default kafka://localhost:9092)
# is the deployment's to set.
ENV CORRELATOR_TOPOLOGY=/etc/correlator/topology.yaml \
    CORRELATOR_DATA_DIR=/var/lib/correlator \
    CORRELATOR_WEB_HOST=0.0.0.0 \
    CORRELATOR_WEB_PORT=6066
WORKDIR /var/lib/correlator
USER 10001:10001
EXPOSE 6066
# /healthz answers 200 while the process is alive. slim has no curl: python's urllib.
# urlopen raises on a refused connection or a non-2xx status, so python exits 1.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CORRELATOR_WEB_PORT', '6066') + '/healthz', timeout=4)"]
ENTRYPOINT ["correlator"]
CMD ["worker"]
