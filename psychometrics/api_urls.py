from django.urls import path

from psychometrics import apis

urlpatterns = [
    path("studies/<slug:slug>/analyses/", apis.AnalysisCreateApi.as_view(), name="psychometrics-analysis-create"),
    path("analyses/<int:pk>/", apis.AnalysisDetailApi.as_view(), name="psychometrics-analysis-detail"),
]
