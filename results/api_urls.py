"""/api/v1/ routes of the results app (see results/apis.py)."""

from django.urls import path

from results import apis

urlpatterns = [
    path("items/", apis.ItemListApi.as_view(), name="api-items"),
    path("items/<int:item_id>/", apis.ItemDetailApi.as_view(), name="api-item"),
    path("itembanks/", apis.ItemBankListApi.as_view(), name="api-itembanks"),
    path("models/", apis.ModelListApi.as_view(), name="api-models"),
    path("credentials/", apis.CredentialListApi.as_view(), name="api-credentials"),
    path("runs/", apis.RunListCreateApi.as_view(), name="api-runs"),
    path("runs/<int:run_id>/", apis.RunDetailApi.as_view(), name="api-run"),
    path("runs/<int:run_id>/scores/", apis.RunScoresApi.as_view(), name="api-run-scores"),
    path("leaderboard/", apis.LeaderboardApi.as_view(), name="api-leaderboard"),
    path("references/", apis.ReferenceListApi.as_view(), name="api-references"),
]
