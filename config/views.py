from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


@require_safe
def home(request):
    return render(request, "home.html")


@require_safe
def healthz(request):
    """Liveness and database check for load balancers and the load test."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})


def not_found(request, exception=None):
    """404 as JSON under /api/ (for REST clients), the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"Not found: {request.path}"}, status=404)
    return render(request, "404.html", status=404)


@require_safe
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says; send them to the icon the pages link."""
    return redirect(static("favicon.svg"), permanent=True)


def _api_routes(patterns, prefix: str = "") -> list[tuple[str, str]]:
    """(route, name) of every endpoint under a URLconf, parameters shown as {name}."""
    routes = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += _api_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            routes.append((route, pattern.name or ""))
    return routes


def _route_template(route: str) -> str:
    """``runs/<int:run_id>/`` -> ``runs/{run_id}/``."""
    import re

    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


class ApiRootApi(APIView):
    """/api/v1/: every endpoint of this API version, with its address, and where the schema is."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(exclude=True)
    def get(self, request):
        from config import api_urls

        base = request.build_absolute_uri("/api/v1/")
        endpoints = [
            {"name": name, "url": base + _route_template(route)}
            for route, name in _api_routes(api_urls.urlpatterns)
            if route  # the root itself
        ]
        return Response({
            "version": "v1",
            "endpoints": endpoints,
            "schema": request.build_absolute_uri("/api/schema/"),
            "docs": request.build_absolute_uri("/api/docs/"),
            "redoc": request.build_absolute_uri("/api/redoc/"),
        })
