from django.urls import path

from psychometrics import views

app_name = "psychometrics"
urlpatterns = [
    path("studies/<slug:slug>/analysis/", views.analysis_page, name="analysis"),
    path("studies/<slug:slug>/analysis/run/", views.analysis_start, name="analysis-run"),
    path("studies/<slug:slug>/analysis/decisions/", views.participant_decision, name="participant-decision"),
    path("studies/<slug:slug>/analysis/items.<str:fmt>", views.analysis_items_download, name="analysis-items"),
]
