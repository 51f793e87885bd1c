"""Build the app: settings, model, middleware, problem handlers, routers. `service.main:app` serves it."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from service.api.admission import AdmissionLimit, Reservation
from service.api.api_key import API_KEY_HEADER, ApiKeyGate, keyed_paths
from service.api.body_limit import BodySizeLimit, body_caps
from service.api.main import ROUTERS, api_router
from service.api.observability import RequestObserver
from service.api.problems import install_problem_handlers
from service.api.routes.docs import DOCS_ASSETS_DIR, DOCS_ASSETS_PATH
from service.api.routes.web import STATIC_DIR
from service.core.config import Settings, get_settings
from service.core.logs import configure_logging
from service.core.metrics import ServiceMetrics
from service.fetch.safe_url import SafeUrlFetcher
from service.inference.dataplane import DataPlane
from service.inference.model import LesionModel
from service.lifespan import lifespan
from service.version import SERVICE_VERSION

DESCRIPTION = """Dermoscopy skin-lesion classifier: the probability that a lesion is cancerous, a seven-class
differential, input-check warnings, and LayerCAM explanations.

**Decision support, not a diagnosis.** Errors are RFC 7807 `application/problem+json` bodies."""


def create_app(settings: Settings | None = None, model: LesionModel | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.warn_about_risky_values(configure_logging(settings.log_level))
    # docs_url=None: service.api.routes.docs serves /docs from local assets; ReDoc would need a CDN.
    app = FastAPI(title="Skin cancer detector", version=SERVICE_VERSION, description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings, app.state.metrics = settings, ServiceMetrics()
    app.state.model = model or LesionModel(settings)
    app.state.dataplane = DataPlane(settings, app.state.metrics)
    app.state.fetcher = SafeUrlFetcher(settings)
    app.state.metrics.track_readiness(lambda: app.state.model.ready)

    install_problem_handlers(app)
    caps = body_caps(settings)
    app.add_middleware(BodySizeLimit, caps=caps)  # innermost of ours: added first
    app.add_middleware(AdmissionLimit, max_inflight=settings.max_inflight_requests,  # shed before parsing
                       max_inflight_bytes=settings.max_inflight_bytes,
                       reservation=Reservation(caps, settings.url_max_bytes))
    if settings.api_key is not None:  # outside the admission limit: a keyless request never holds a slot
        app.add_middleware(ApiKeyGate, expected=settings.api_key, paths=keyed_paths(ROUTERS))
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", API_KEY_HEADER, "X-Request-ID"],
                           expose_headers=["X-Request-ID"])
    app.add_middleware(RequestObserver, metrics=app.state.metrics)
    app.include_router(api_router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount(DOCS_ASSETS_PATH, StaticFiles(directory=DOCS_ASSETS_DIR), name="docs-assets")
    return app


app = create_app()
