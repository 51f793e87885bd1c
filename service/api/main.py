"""All routers, in one place."""

from fastapi import APIRouter

from service.api.routes import docs, gradcam, health, metrics, model_info, open_inference, predict, web

api_router = APIRouter()
for module in (health, metrics, model_info, predict, gradcam, web, docs, open_inference):
    api_router.include_router(module.router)
api_router.include_router(open_inference.model_router)
