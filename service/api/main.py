"""All routers, in one place."""

from fastapi import APIRouter

from service.api.routes import docs, gradcam, health, metrics, model_info, predict, web

api_router = APIRouter()
for module in (health, metrics, model_info, predict, gradcam, web, docs):
    api_router.include_router(module.router)
