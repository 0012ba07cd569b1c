from django.urls import path

from surveys import views

app_name = "surveys"
urlpatterns = [
    path("s/<slug:slug>/", views.study_entry, name="entry"),
    path("s/<slug:slug>/preview/", views.study_preview, name="preview"),
    path("s/<slug:slug>/p/<str:token>/", views.participant_page, name="participant"),
    path("s/<slug:slug>/p/<str:token>/draft/", views.participant_draft, name="participant-draft"),
    path("studies/", views.study_list, name="study-list"),
    path("studies/<slug:slug>/dashboard/", views.study_dashboard_page, name="dashboard"),
    path("studies/<slug:slug>/dashboard.json", views.study_dashboard_feed, name="dashboard-feed"),
    path("studies/<slug:slug>/export/<str:what>.<str:fmt>", views.study_export, name="export"),
]
