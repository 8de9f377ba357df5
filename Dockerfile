# TorchServe with this project's models, CPU only. Build, run, deploy: docs/container.md.
#
#   docker build -t torchserve-kit .
#   docker run --rm -p 127.0.0.1:8080:8080 torchserve-kit
#
# Build arguments:
#   BASE_IMAGE       Debian bookworm image; `make image-test` passes a local stand-in
#   TORCH_INDEX_URL  PyTorch's CPU wheel index (PyPI's Linux torch is the multi-GB CUDA
#                    build); empty to take torch from TORCH_WHEELS or PyPI only
#   TORCH_WHEELS     a folder of wheels searched too, e.g. a local torch CPU wheel mounted
#                    into the build: buildah bud -v /opt/wheels:/wheels:ro ... (mk/container.mk)
#   PIP_CA_BUNDLE    a CA bundle for pip inside the build, for networks that re-sign TLS
ARG BASE_IMAGE=debian:bookworm-slim

# -- base: Debian's Python 3.11, shared by both stages so the venv's interpreter path holds
FROM ${BASE_IMAGE} AS base
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# -- build: the pinned dependencies into /opt/venv, then train and archive the models
FROM base AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_WHEELS=
ARG PIP_CA_BUNDLE=
WORKDIR /src
# Requirements before source: editing the code does not reinstall the dependencies.
COPY requirements/runtime.txt requirements/lock.txt requirements/
RUN pip install --no-cache-dir \
        ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} \
        ${TORCH_WHEELS:+--find-links "$TORCH_WHEELS"} \
        ${PIP_CA_BUNDLE:+--cert "$PIP_CA_BUNDLE"} \
        -r requirements/runtime.txt -c requirements/lock.txt
COPY handlers/ handlers/
COPY models/ models/
COPY contracts/ contracts/
COPY config/ config/
# The build reads the project's paths from server/settings.py (it imports nothing else).
COPY server/__init__.py server/settings.py server/
# One thread: the trained weights then do not depend on the build machine's core count
# (torch's results shift with it), and the build leaves the other cores alone.
RUN OMP_NUM_THREADS=1 python -m models.build

# -- runtime: Java for TorchServe's frontend, the venv, the server code and the archives
FROM base AS runtime
# The slim image has no /usr/share/man/man1, where the JRE's postinst links a man page.
# procps: the frontend stops a scaled-down worker by running `kill -9 PID`; without a kill
# binary (the slim image has only the shell's builtin) every scale-down answers 500.
# haproxy: the front door (config/haproxy.cfg), started by the entrypoint, not as a service.
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps haproxy \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The supervisor (server/) manages TorchServe through the project's client (client/, which
# speaks the models' wire formats from contracts/); the management exporter (monitor/, with
# the metric names of handlers/metrics.py) serves workers and queues at /workers/metrics.
COPY server/ server/
COPY client/ client/
COPY contracts/ contracts/
COPY monitor/ monitor/
COPY handlers/ handlers/
COPY config/ config/
COPY container/ container/
COPY --from=build /src/model_store/*.mar model_store/
# Code and archives stay root-owned (read-only to the server); only run/ is writable:
# the rendered config, logs, key_file.json and TorchServe's temporary files.
RUN install -d -o app -g app /app/run
# Numeric, so platforms that enforce runAsNonRoot can check it.
USER 10001:10001
ENV TS_RUN_DIR=/app/run
# The front door (PORT). Prometheus metrics (METRICS_PORT, 8082) listen outside the
# container only with METRICS_HOST=0.0.0.0; management stays on the container's loopback.
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=180s --retries=3 \
    CMD ["python", "-m", "container.healthcheck"]
ENTRYPOINT ["python", "-m", "container.entrypoint"]
