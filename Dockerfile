# sora-bot: slim image, dependencies before source, non-root, database and media on a volume.
# Needs BuildKit (Docker 23+ / `docker compose build`) or podman/buildah: `RUN --mount` below.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The dependency list, read from pyproject.toml (nothing is built, so this stage and the
# dependency layer below only change when pyproject.toml does).
FROM base AS requirements
WORKDIR /req
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
    > requirements.txt

# The project as a wheel; build/ and *.egg-info stay in this stage.
FROM base AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && sha256sum /wheels/*.whl > /wheels.sha256

FROM base
# The database and the downloaded videos both live on the volume, which the bot's user owns.
ENV SORA_BOT_DB=/data/sora-bot.db \
    SORA_BOT_MEDIA=/data/media

# The bind mounts below are not part of a layer's cache key (buildah/podman reuse the
# layer whatever the mounted files hold), so the two small files that say what they hold are
# copied first: a changed dependency list or wheel then rebuilds its layer.
COPY --from=requirements /req/requirements.txt /tmp/requirements.txt
RUN --mount=type=bind,from=requirements,source=/req,target=/req \
    pip install -r /req/requirements.txt
COPY --from=wheel /wheels.sha256 /tmp/wheels.sha256
RUN --mount=type=bind,from=wheel,source=/wheels,target=/wheels \
    pip install --no-deps /wheels/*.whl

WORKDIR /app
COPY config.example.toml ./
RUN useradd --create-home --uid 10001 sora \
    && mkdir -p /data/media && chown -R sora:sora /data

USER sora
VOLUME ["/data"]
# config.toml is optional: mount one at /app/config.toml or use SORA_BOT_CONFIG.
# SIGTERM: `run` stops polling, closes the gateway and the database, exits 0; `demo` and
# `check` stop what they do and exit 143. Python handles it itself, so this holds as PID 1
# (`docker run` without --init) too.
STOPSIGNAL SIGTERM
# Asks /healthz when [health] enabled = true in the config (or $SORA_BOT_HEALTH_URL is set);
# with the endpoint disabled (the default) there is nothing to ask and the probe passes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot.ops.health"]
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
