from django.urls import path

from surveys import study_views, views

app_name = "surveys"
urlpatterns = [
    path("s/<slug:slug>/", views.study_entry, name="entry"),
    path("s/<slug:slug>/preview/", views.study_preview, name="preview"),
    path("s/<slug:slug>/p/<str:token>/", views.participant_page, name="participant"),
    path("s/<slug:slug>/p/<str:token>/draft/", views.participant_draft, name="participant-draft"),
    path("studies/", views.study_list, name="study-list"),
    path("studies/new/", study_views.study_new, name="study-new"),
    path("studies/<slug:slug>/settings/", study_views.study_settings, name="study-settings"),
    path("studies/<slug:slug>/items/", study_views.study_items, name="study-items"),
    path("studies/<slug:slug>/items/remove/", study_views.study_items_clear_view, name="study-items-clear"),
    path("studies/<slug:slug>/launch/", study_views.study_launch, name="study-launch"),
    path("studies/<slug:slug>/launch/open/", study_views.study_open_view, name="study-open"),
    path("studies/<slug:slug>/launch/close/", study_views.study_close_view, name="study-close"),
    path("studies/<slug:slug>/dashboard/", views.study_dashboard_page, name="dashboard"),
    path("studies/<slug:slug>/dashboard.json", views.study_dashboard_feed, name="dashboard-feed"),
    path("studies/<slug:slug>/export/study/<str:table>.<str:fmt>", views.study_export_table, name="export-study"),
    path("studies/<slug:slug>/export/<str:what>.<str:fmt>", views.study_export, name="export"),
]
