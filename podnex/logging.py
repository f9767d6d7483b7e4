"""structlog set-up: readable console output in development, JSON lines in production.

Context travels through structlog's contextvars: the API binds `request_id` and `user_id`
for each request, the worker binds `workflow_id`, `run_id`, `activity` and `attempt` for each
activity, so every line written meanwhile (by podnex, a library or the standard library's
logging) carries them. Fields whose names say they hold a secret are masked.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from podnex.settings import Settings

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(
    r"(password|passwd|secret|api_?key|authorization|token|private_?key|credential)", re.I
)


def redact_secrets(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Mask every field whose name says it holds a secret (`api_key`, `password`, ...)."""
    for name in event_dict:
        if name != "event" and _SECRET_NAME.search(name):
            event_dict[name] = REDACTED
    return event_dict


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library's logging through one renderer."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: structlog.types.Processor
    if settings.log_format == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # uvicorn installs its own handlers (plain text): hand its lines to ours instead.
    for server in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        server_logger = logging.getLogger(server)
        server_logger.handlers.clear()
        server_logger.propagate = True
    for noisy in ("temporalio.activity", "temporalio.workflow"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.INFO))
