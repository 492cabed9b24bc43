# vgen's container image: `vgen serve` (API + worker) by default; `vgen serve --no-worker` and
# `vgen worker` for the scale-out shape (compose.yaml, docs/deploy.md).
#
# The base is an argument so the image also builds on a local Debian base where no registry can
# be reached (tests/deploy/test_container.py builds one with debootstrap). Any Debian-like base
# works: an official python image brings its own Python; a bare Debian gets Debian's (bookworm:
# 3.11) from apt.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS python
RUN if ! command -v python3 >/dev/null 2>&1; then \
        apt-get update \
        && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
        && apt-get clean && rm -rf /var/lib/apt/lists/*; \
    fi

# Everything vgen needs comes as wheels (PyAV bundles FFmpeg; OpenCV headless, numpy, psycopg
# binary), so no compiler is installed, and the build stage's sources stay behind.
FROM python AS build
# EXTRA_CA_CERTS (PEM text): CAs pip must trust besides its own bundle, for a build behind a
# TLS-intercepting proxy. Used by this stage only; the final image does not carry it.
ARG EXTRA_CA_CERTS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/vgen
COPY pyproject.toml README.md /src/
COPY src /src/src
RUN if [ -n "$EXTRA_CA_CERTS" ]; then \
        bundle="$(/opt/vgen/bin/python -c 'from pip._vendor import certifi; print(certifi.where())')" \
        && { cat "$bundle"; printf '%s\n' "$EXTRA_CA_CERTS"; } > /tmp/ca.pem \
        && export PIP_CERT=/tmp/ca.pem; \
    fi \
    && /opt/vgen/bin/pip install /src

FROM python
COPY --from=build /opt/vgen /opt/vgen
RUN groupadd --system --gid 10001 vgen \
    && useradd --system --uid 10001 --gid vgen --home-dir /data --shell /usr/sbin/nologin vgen \
    && mkdir -p /data \
    && chown vgen:vgen /data
ENV PATH=/opt/vgen/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VGEN_DATA_DIR=/data \
    VGEN_HOST=0.0.0.0 \
    VGEN_PORT=8000
USER vgen
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# Only what the image has: Python's urllib (no curl). A worker-only container has no HTTP port;
# compose.yaml turns this check off for `vgen worker`.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('VGEN_PORT', '8000'), timeout=4)"]
CMD ["vgen", "serve"]
