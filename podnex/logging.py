"""structlog set-up: readable console output in development, JSON lines in production.

Context travels through structlog's contextvars: the API binds `request_id` and `user_id`
for each request, the worker binds `workflow_id`, `run_id`, `activity` and `attempt` for each
activity, so every line written meanwhile (by podnex, a library or the standard library's
logging) carries them. Fields whose names say they hold a secret are masked, and so is any
API key (`pnx_…`), feed token (`pnf_…`) or download-link signature (`signature=…`) in the
rendered line: a message, an access-log line with a path or query string, an exception's
text. Tracebacks never show local variables (the console's rich tracebacks would print
request headers).
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
    r"(password|passwd|secret|api_?key|authorization|token|private_?key|credential|signature)",
    re.I,
)
_SECRET_TEXT = re.compile(
    r"(?P<key>pn[xf]_[A-Za-z0-9_-]{8,})"
    r"|(?P<query>(?:signature|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=)"
    r"[^&\s\"'\\]+",
    re.I,
)
"""Secrets recognisable inside text: podnex API keys and feed tokens (`pnf_…`, in a feed's
paths), and link signatures (ours and S3's
presigned ones) in a query string."""


def redact_text(text: str) -> str:
    """`text` with every API key and link signature in it masked."""

    def mask(match: re.Match[str]) -> str:
        return f"{match['query']}{REDACTED}" if match["query"] else REDACTED

    return _SECRET_TEXT.sub(mask, text)


def redact_rendered(logger: Any, method_name: str, rendered: Any) -> Any:
    """The last step after the renderer: mask secrets anywhere in the rendered line,
    exception text and traceback included."""
    return redact_text(rendered) if isinstance(rendered, str) else rendered


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
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=_traceback_formatter()
        )

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            renderer,
            redact_rendered,
        ],
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


def _traceback_formatter() -> structlog.typing.ExceptionRenderer:
    """Readable tracebacks without local variables: a frame's locals hold request headers,
    API keys and signed URLs."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return structlog.dev.plain_traceback
    return structlog.dev.RichTracebackFormatter(show_locals=False)
