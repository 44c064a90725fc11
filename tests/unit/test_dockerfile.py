"""The image installs the project the README's way and keeps its promises (no Docker engine here to build it)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_uses_the_shared_setup_script_and_runs_as_a_user():
    text = (ROOT / "Dockerfile").read_text()
    assert "RUN ./scripts/setup" in text  # the same install path as ./scripts/run and ./scripts/test
    assert "USER bot" in text and 'VOLUME ["/data"]' in text and "HEALTHCHECK" in text and "/healthz" in text
    assert "TOKEN=" not in text.replace("TELEGRAM_BOT_TOKEN=...", "")  # no secret baked in


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", "*.db", ".git"} <= set(ignored)
