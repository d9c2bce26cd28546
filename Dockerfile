# syntax=docker/dockerfile:1
#
# One image for every CLOCK process:
#   docker run IMAGE serve gateway      (or membership, catalog, matching, reporting)
#   docker run IMAGE migrate            (a one-off job, once per release, before the processes)
# deploy/compose.yaml and deploy/k8s/ run it that way; deploy/README.md says how.
#
# The base is pinned to a release. In production pin its digest too, so that a rebuild gets the
# same bytes: python:3.11.7-slim-bookworm@sha256:<digest>
# (`docker buildx imagetools inspect python:3.11.7-slim-bookworm` prints it).
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

# ---- build: the project's wheel and every dependency, installed into a venv -------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/clock \
 && /opt/clock/bin/pip install --upgrade pip

WORKDIR /src
COPY pyproject.toml README.md ./
COPY kernel/ kernel/
COPY gateway/ gateway/
COPY services/ services/
COPY clock_cli/ clock_cli/

# A wheel, not an editable install: the runtime stage has no source tree. Every dependency has
# a manylinux wheel, so no compiler is needed.
RUN /opt/clock/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/clock/bin/pip install /wheels/*.whl \
 && /opt/clock/bin/clock --help > /dev/null

# ---- runtime: the venv, a non-root user, nothing else --------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="CLOCK" \
      org.opencontainers.image.description="CLOCK platform: gateway, services and migrations (clock serve|migrate)"

# A fixed uid/gid: Kubernetes' runAsNonRoot checks a numeric USER, and volumes can be given to it.
RUN groupadd --system --gid 10001 clock \
 && useradd --system --uid 10001 --gid clock --home-dir /var/lib/clock --no-create-home \
        --shell /usr/sbin/nologin clock \
 && install -d -o clock -g clock -m 0750 /var/lib/clock

COPY --from=build /opt/clock /opt/clock

# Inside a container every process listens on all interfaces, on its usual port (gateway 8000,
# membership 8101, catalog 8102, matching 8103, reporting 8104). CLOCK_DATA_DIR is only written
# when a database URL or CLOCK_PRINCIPAL_SECRET is missing (SQLite files, principal.key): the
# deployments set both and mount the root filesystem read-only, so a forgotten one fails loudly.
ENV PATH=/opt/clock/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CLOCK_DATA_DIR=/var/lib/clock \
    CLOCK_GATEWAY_HOST=0.0.0.0 \
    CLOCK_MEMBERSHIP_HOST=0.0.0.0 \
    CLOCK_CATALOG_HOST=0.0.0.0 \
    CLOCK_MATCHING_HOST=0.0.0.0 \
    CLOCK_REPORTING_HOST=0.0.0.0

WORKDIR /var/lib/clock
USER 10001:10001

EXPOSE 8000 8101 8102 8103 8104

# Liveness of `clock serve <component>` (no curl in the slim image): the component is read from
# PID 1's arguments and its port from its settings; any other command (`clock migrate`) is
# healthy. Compose and Kubernetes use their own probes (/readyz and /healthz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request\nargv = open('/proc/1/cmdline', 'rb').read().decode().split('\\0')\nif 'serve' not in argv: sys.exit(0)\nfrom clock_cli.components import COMPONENTS\nport = COMPONENTS[argv[argv.index('serve') + 1]].settings().port\nurllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]

ENTRYPOINT ["clock"]
CMD ["serve", "gateway"]
