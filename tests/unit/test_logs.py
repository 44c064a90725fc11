"""No configured secret reaches a log line, a traceback or a formatted argument."""

from __future__ import annotations

import logging

from bot.logs import RedactingFilter


def test_secrets_are_masked_in_messages_arguments_and_tracebacks(caplog):
    log = logging.getLogger("test.redact")
    log.addFilter(RedactingFilter(["123:SECRET", "CG-KEY"]))
    with caplog.at_level(logging.DEBUG, logger="test.redact"):
        log.debug("GET http://127.0.0.1:8081/bot123:SECRET/getMe")  # the Bot API emulator's URL shape
        log.info("key %s in args", "CG-KEY")
        try:
            raise RuntimeError("failed calling /bot123:SECRET/sendMessage")
        except RuntimeError:
            log.exception("send failed")
    text = caplog.text
    assert "SECRET" not in text and "CG-KEY" not in text
    assert text.count("***") >= 3
