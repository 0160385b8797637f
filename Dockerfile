# sora-bot: slim image, dependencies before source, non-root, SQLite on a volume.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SORA_BOT_DB=/data/sora-bot.db

WORKDIR /app

# Dependency layer: only changes when pyproject.toml does.
COPY pyproject.toml README.md ./
RUN mkdir bot && touch bot/__init__.py \
    && pip install --no-cache-dir . \
    && pip uninstall -y sora-bot \
    && rm -rf bot

COPY bot ./bot
COPY config.example.toml ./
RUN pip install --no-cache-dir --no-deps . \
    && useradd --create-home --uid 10001 sora \
    && mkdir -p /data && chown sora:sora /data

USER sora
VOLUME ["/data"]
# config.toml is optional: mount one at /app/config.toml or use SORA_BOT_CONFIG.
# Stops on SIGTERM: polling stops, the gateway closes, the database is closed cleanly.
STOPSIGNAL SIGTERM
# Asks /healthz when [health] enabled = true in the config (or $SORA_BOT_HEALTH_URL is set);
# with the endpoint disabled (the default) there is nothing to ask and the probe passes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot.ops.health"]
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
