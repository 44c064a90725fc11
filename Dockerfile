# collateral-bot: slim Python, non-root, database on the /data volume, no secret baked in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VENV_DIR=/opt/venv \
    DATABASE_PATH=/data/collateral-bot.db

RUN useradd --create-home --uid 10001 bot && mkdir -p /data && chown bot /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY scripts ./scripts
COPY core ./core
COPY bot ./bot
# The same install path the README's commands use.
RUN ./scripts/setup && chown -R bot /app

USER bot
VOLUME ["/data"]
ENTRYPOINT ["/opt/venv/bin/collateral-bot"]
CMD ["run"]
