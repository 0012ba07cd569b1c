from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render


def home(request):
    return render(request, "home.html")


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
