from django.urls import path

from prolific import views

app_name = "prolific"
urlpatterns = [
    path("studies/<slug:slug>/prolific/", views.study_prolific, name="study"),
    path("studies/<slug:slug>/prolific/settings/", views.settings_save, name="settings"),
    path("studies/<slug:slug>/prolific/subscribe/", views.webhook_subscribe, name="subscribe"),
    path("studies/<slug:slug>/prolific/check/", views.study_check, name="check"),
    path("studies/<slug:slug>/prolific/reconcile/", views.reconcile, name="reconcile"),
    path("studies/<slug:slug>/prolific/review/", views.review_preview, name="review"),
    path("studies/<slug:slug>/prolific/review/send/", views.review_send_view, name="review-send"),
    path("prolific/webhook/", views.webhook, name="webhook"),
]
