from django.urls import path

from results import views

app_name = "results"
urlpatterns = [
    path("results/", views.leaderboard_page, name="leaderboard"),
    path("results/models/<int:model_id>/", views.model_page, name="model"),
    path("results/runs/<int:run_id>/items/", views.run_items, name="run-items"),
    path("results/compare/", views.compare_page, name="compare"),
    path("results/alignment/", views.alignment_page, name="alignment"),
    path("results/self-test/", views.self_test_page, name="self-test"),
    path("results/items/", views.items_page, name="items"),
]
