"""The Litestar application: `api.app:app` (uvicorn api.app:app)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.config.cors import CORSConfig
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.pydantic import PydanticPlugin
from litestar.types import Middleware

from api.auth import ApiKeyAuthentication
from api.billing_service import payments_client
from api.bodies import json_body_guard
from api.controllers.admin import AdminController
from api.controllers.api_keys import ApiKeyController
from api.controllers.billing import BillingController, BillingWebhookController
from api.controllers.feeds import FeedTokenController, PublicFeedController
from api.controllers.files import FileController
from api.controllers.health import health, metrics, ready
from api.controllers.page import OfflineScalarRenderPlugin, media_sources, page, static_files
from api.controllers.podcast_events import PodcastEventController
from api.controllers.podcast_stream import PodcastStreamController, StreamFileController
from api.controllers.podcasts import PodcastController
from api.controllers.users import UserController
from api.controllers.voices import VoiceController
from api.controllers.webhooks import WebhookController
from api.errors import EXCEPTION_HANDLERS
from api.middleware import UserContextMiddleware, page_content_security_policy, wrap_application
from api.openapi import add_media_type
from api.paths import PUBLIC_PATHS, SCHEMA_PATH, UNCOMPRESSED_PATHS
from api.ratelimit import SharedRateLimitMiddleware
from api.state import AppState
from api.temporal_client import PodcastRuns
from podnex.db import Database
from podnex.logging import configure_logging
from podnex.providers import create_engines
from podnex.settings import Settings, settings_or_exit
from podnex.storage import create_storage

EXPOSED_HEADERS = [
    "X-Request-ID",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
]
"""Response headers a browser client may read across origins."""

TEMPORAL_WARM_UP_SECONDS = 5.0
"""How long start-up waits for a first Temporal connection before serving without one."""

log = structlog.get_logger("podnex.api")


def create_app(settings: Settings | None = None) -> Litestar:
    """The API with every cross-cutting concern wired from `settings` (default: environment).

    Outermost, for every response: request id and security headers (`wrap_application`),
    then CORS. Per route: rate limits (per address and per API key, counted in Postgres:
    `api.ratelimit`), authentication, user log context,
    compression (brotli, gzip fallback; never audio) and the request body size limit.
    """
    settings = settings or settings_or_exit("api")
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        """Open the database pool and the Temporal client once; close them at shutdown.

        Temporal is connected at start when it answers within `TEMPORAL_WARM_UP_SECONDS`;
        otherwise the API serves anyway (readiness reports it) and connects on first use.
        """
        db = Database(settings)
        runs = PodcastRuns(settings)
        app.state.podnex = AppState(
            settings=settings,
            db=db,
            storage=create_storage(settings),
            runs=runs,
            engines=create_engines(settings),
            secret_key=settings.resolved_secret_key(),
            payments=payments_client(settings),
        )
        try:
            async with asyncio.timeout(TEMPORAL_WARM_UP_SECONDS):
                await runs.client()
            log.info(
                "api started",
                temporal=settings.temporal_address,
                namespace=settings.temporal_namespace,
                database_pool_size=settings.database_pool_size,
                database_max_overflow=settings.database_max_overflow,
            )
        except Exception as exc:
            log.warning(
                "api started without Temporal; connecting on first use",
                temporal=settings.temporal_address,
                error=str(exc) or type(exc).__name__,
            )
        try:
            yield
        finally:
            # The SDK's client has no close (its connection goes with the app); the pool
            # closes every connection it holds.
            await db.dispose()
            log.info("api stopped")

    middleware: list[Middleware] = []
    if settings.rate_limit_per_minute or settings.rate_limit_per_address_per_minute:
        middleware.append(
            SharedRateLimitMiddleware(
                per_key=settings.rate_limit_per_minute,
                per_address=settings.rate_limit_per_address_per_minute,
            )
        )
    middleware += [
        DefineMiddleware(ApiKeyAuthentication, exclude=PUBLIC_PATHS),
        UserContextMiddleware,
    ]

    app = Litestar(
        route_handlers=[
            health,
            ready,
            metrics,
            PodcastController,
            PodcastEventController,
            PodcastStreamController,
            StreamFileController,
            FileController,
            UserController,
            ApiKeyController,
            VoiceController,
            WebhookController,
            BillingController,
            BillingWebhookController,
            AdminController,
            FeedTokenController,
            PublicFeedController,
            page,
            *static_files(),
        ],
        lifespan=[lifespan],
        middleware=middleware,
        guards=[json_body_guard],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        # podnex.logging owns logging (structlog, one format for every line): Litestar's
        # own configuration would put a plain-text handler on the root logger.
        logging_config=None,
        plugins=[PydanticPlugin(prefer_alias=True)],
        cors_config=CORSConfig(
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            expose_headers=EXPOSED_HEADERS,
        ),
        compression_config=CompressionConfig(
            backend="brotli",
            brotli_gzip_fallback=True,
            minimum_size=500,
            exclude=UNCOMPRESSED_PATHS,
        ),
        request_max_body_size=settings.request_max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="podnex API",
            version="1.0.0",
            description="Turn notes into a two-voice podcast.",
            path=SCHEMA_PATH,
            render_plugins=[OfflineScalarRenderPlugin()],
            components=Components(
                security_schemes={
                    "BearerAuth": SecurityScheme(
                        type="http", scheme="bearer", description="An API key: `pnx_…`"
                    )
                }
            ),
        ),
        debug=False,
    )
    add_media_type(
        app,
        "/api/v1/podcasts/{podcast_id}/transcript",
        "get",
        "200",
        "text/vtt",
        "WebVTT captions, with `?format=vtt`",
    )
    app.asgi_handler = wrap_application(
        app.asgi_handler, page_content_security_policy(media_sources(settings))
    )
    return app


app = create_app()
