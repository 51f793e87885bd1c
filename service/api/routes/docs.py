"""Interactive API docs served from the installed package, so /docs works with no internet.

FastAPI's default /docs page loads Swagger UI from a CDN; here the same assets come from the
`swagger-ui-bundle-v2` package (Swagger UI 5, which renders the OpenAPI 3.1 document FastAPI writes).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from swagger_ui_bundle import swagger_ui_path

DOCS_ASSETS_PATH = "/docs-assets"
DOCS_ASSETS_DIR = str(swagger_ui_path)

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def read_docs(request: Request) -> HTMLResponse:
    """Swagger UI for the OpenAPI document, from local assets."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API docs",
        swagger_js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS_PATH}/favicon-32x32.png",
    )
