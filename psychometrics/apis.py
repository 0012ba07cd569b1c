"""API of the psychometrics app: start an analysis and follow its progress (the study's researchers or staff)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from config.tasks import task_status
from psychometrics.models import Analysis
from psychometrics.selectors import study_for_researcher
from psychometrics.services import analysis_create


class AnalysisOutputSerializer(serializers.ModelSerializer):
    study = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    task = serializers.SerializerMethodField()

    class Meta:
        model = Analysis
        fields = [
            "id", "study", "status", "progress", "task", "rules", "threshold", "alpha", "use_fdr",
            "created_at", "started_at", "finished_at", "summary", "error", "warning",
        ]

    def get_task(self, analysis) -> dict | None:
        return task_status(analysis.task_id) if analysis.task_id else None


class AnalysisCreateApi(APIView):
    """Start a new analysis of a study with its rules; it runs as a Celery task."""

    permission_classes = [permissions.IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        min_seconds = serializers.FloatField(required=False, min_value=0)
        threshold = serializers.FloatField(required=False, min_value=0, max_value=1)
        alpha = serializers.FloatField(required=False, min_value=0, max_value=1)
        fdr = serializers.BooleanField(required=False)

        def validate_alpha(self, value):
            if not 0 < value < 1:
                raise serializers.ValidationError("alpha must be between 0 and 1 (exclusive).")
            return value

    @extend_schema(request=InputSerializer, responses={202: AnalysisOutputSerializer})
    def post(self, request, slug):
        study = study_for_researcher(user=request.user, slug=slug)
        if study is None:
            raise PermissionDenied("Only the study's researchers can analyse it.")
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        analysis = analysis_create(study=study, user=request.user, **data.validated_data)
        return Response(AnalysisOutputSerializer(analysis).data, status=status.HTTP_202_ACCEPTED)


class AnalysisDetailApi(APIView):
    """An analysis: status (``warning`` when nothing could be computed, ``warning`` says why), progress
    (row and task), rules and summary (with the per-rule ``screening``)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=AnalysisOutputSerializer)
    def get(self, request, pk):
        analysis = get_object_or_404(Analysis.objects.select_related("study"), pk=pk)
        if study_for_researcher(user=request.user, slug=analysis.study.slug) is None:
            raise PermissionDenied("Only the study's researchers can see its analyses.")
        return Response(AnalysisOutputSerializer(analysis).data)
