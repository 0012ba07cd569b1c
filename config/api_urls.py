"""/api/v1/: each app contributes its own routes."""

from django.urls import include, path

from config.views import ApiRootApi

urlpatterns = [
    path("", ApiRootApi.as_view(), name="api-root"),
    path("", include("surveys.api_urls")),
    path("", include("psychometrics.api_urls")),
    path("", include("benchmark.api_urls")),
    path("", include("results.api_urls")),
]
