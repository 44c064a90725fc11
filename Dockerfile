# collateral-bot: slim Python, non-root, database on the /data volume, no secret baked in.
# Build: docker build -t collateral-bot .
# Run:   docker run -d --name collateral-bot -v collateral-bot-data:/data -e TELEGRAM_BOT_TOKEN=... collateral-bot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VENV_DIR=/opt/venv \
    DATABASE_PATH=/data/collateral-bot.db \
    HTTP_PORT=8080

RUN useradd --create-home --uid 10001 bot && mkdir -p /data && chown bot /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY scripts ./scripts
COPY core ./core
COPY bot ./bot
# The same install path the README's commands use (scripts/setup builds the venv from pyproject.toml).
# Code and venv stay root's: the bot user can write only /data.
RUN ./scripts/setup

USER bot
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HTTP_PORT', '8080'), timeout=4).status == 200 else 1)"
# SIGTERM: stop taking commands, deliver due warnings for SHUTDOWN_GRACE_SECONDS (5), close the database.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/opt/venv/bin/collateral-bot"]
CMD ["run"]
