"""/api/v1/: each app contributes its own routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("surveys.api_urls")),
    path("", include("psychometrics.api_urls")),
    path("", include("benchmark.api_urls")),
    path("", include("results.api_urls")),
]
