# syntax=docker/dockerfile:1
# The one image every mlgate container action and GitLab component runs.
#
#   docker build -t ghcr.io/mlgate-dev/mlgate:dev .
#   docker run --rm -v "$PWD:/work" ghcr.io/mlgate-dev/mlgate:dev check /work/fixtures/example-model
#
# Base image: pinned by tag here; a release build pins it by digest with
#   --build-arg PYTHON_IMAGE=python:3.11.9-slim-bookworm@sha256:<digest>
# (docs/github.md, "The container image"). No torch, no compilers in the final stage, non-root
# user, `mlgate` as the entrypoint.
ARG PYTHON_IMAGE=python:3.11.9-slim-bookworm

# ---- build: wheels of mlgate and its pinned dependency closure ----------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY scripts/image-constraints.txt scripts/image-constraints.txt
COPY src ./src
# the same install CI runs (`pip install .`), pinned to the versions CI tested
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels \
        --constraint scripts/image-constraints.txt .

# ---- runtime --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="mlgate" \
      org.opencontainers.image.description="Gate ML models through CI/CD: scan, ML-BOM, license, maturity, decide." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/mlgate-dev/mlgate"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    MLGATE_CACHE_DIR=/home/mlgate/.cache/mlgate
# uid 1001 is the `runner` user of GitHub-hosted runners: files the action writes into the
# mounted workspace and $GITHUB_OUTPUT stay owned by the job's user.
RUN groupadd --gid 1001 mlgate \
    && useradd --uid 1001 --gid 1001 --create-home --shell /usr/sbin/nologin mlgate
COPY --from=build /wheels /tmp/wheels
RUN python -m pip install --no-cache-dir --no-index --find-links /tmp/wheels /tmp/wheels/mlgate-*.whl \
    && rm -rf /tmp/wheels \
    && mlgate --version
USER 1001:1001
WORKDIR /home/mlgate
ENTRYPOINT ["mlgate"]
CMD ["--help"]
