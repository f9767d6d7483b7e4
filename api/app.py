"""The Litestar application: `api.app:app` (uvicorn api.app:app)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.pydantic import PydanticPlugin

from api.auth import EXCLUDED_PATHS, ApiKeyAuthentication
from api.controllers.api_keys import ApiKeyController
from api.controllers.files import FileController
from api.controllers.health import health
from api.controllers.podcasts import PodcastController
from api.controllers.users import UserController
from api.errors import EXCEPTION_HANDLERS
from api.state import AppState, TemporalGateway
from podnex.db import Database
from podnex.logging import configure_logging
from podnex.settings import Settings, get_settings
from podnex.speech import create_engines
from podnex.storage import create_storage


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = Database(settings)
        app.state.podnex = AppState(
            settings=settings,
            db=db,
            storage=create_storage(settings),
            temporal=TemporalGateway(settings),
            engines=create_engines(settings),
            secret_key=settings.resolved_secret_key(),
        )
        try:
            yield
        finally:
            await db.dispose()

    return Litestar(
        route_handlers=[
            health,
            PodcastController,
            FileController,
            UserController,
            ApiKeyController,
        ],
        lifespan=[lifespan],
        on_startup=[lambda: configure_logging(settings)],
        middleware=[DefineMiddleware(ApiKeyAuthentication, exclude=EXCLUDED_PATHS)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        plugins=[PydanticPlugin(prefer_alias=True)],
        cors_config=CORSConfig(allow_origins=["http://localhost:3000"], allow_credentials=True),
        openapi_config=OpenAPIConfig(
            title="podnex API",
            version="1.0.0",
            description="Turn notes into a two-voice podcast.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
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


app = create_app()
