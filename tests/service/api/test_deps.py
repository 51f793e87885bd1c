"""Dependencies never leave the event loop: FastAPI runs a plain `def` dependency in a worker thread, and a
dozen such hops per request cost /predict more than the work they guard."""

from __future__ import annotations

import inspect

from fastapi.routing import APIRoute

from service.api.main import ROUTERS


def dependency_calls(dependant) -> list:
    found = []
    for sub in dependant.dependencies:
        found.append(sub.call)
        found += dependency_calls(sub)
    return found


def test_every_dependency_of_every_route_is_async():
    routes = [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]
    assert {"/predict", "/gradcam", "/v1/model"} <= {route.path for route in routes}
    blocking = {f"{route.path}: {getattr(call, '__qualname__', type(call).__qualname__)}" for route in routes
                for call in dependency_calls(route.dependant) if not _is_async(call)}
    assert not blocking, f"dependencies run in a worker thread: {sorted(blocking)}"


def _is_async(call) -> bool:
    # security schemes (APIKeyHeader) are instances with an async __call__
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)
