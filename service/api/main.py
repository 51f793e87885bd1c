"""All routers, in one place."""

from fastapi import APIRouter

from service.api.routes import docs, gradcam, health, metrics, model_info, open_inference, predict, web

ROUTERS = (health.router, metrics.router, model_info.router, predict.router, gradcam.router, web.router,
           docs.router, open_inference.router, open_inference.model_router)

api_router = APIRouter()
for router in ROUTERS:
    api_router.include_router(router)
