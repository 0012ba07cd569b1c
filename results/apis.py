"""REST API under /api/v1/: items, item banks, models, runs, scores, leaderboard, human references.

One API class per operation, its serializers beside it. Reads are public except for private item
banks (and banks of private studies) and unpublished runs, which only their owners, the researchers
of their study and superusers see; a run's provider error text is shown to them only. Writes need a
researcher (a superuser, a member of the ``researchers`` group or a researcher of a study)
authenticated by token or session; ``is_staff`` alone grants nothing. Every bad query parameter is
a 400 with a JSON message.
"""

from django.db import transaction
from django.db.models import Count, Prefetch, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import APIException, NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from benchmark import credentials, scoring
from benchmark.models import LLM, HumanReference, HumanReferenceValue, Run
from benchmark.presets import PERSONAS, VALUE_DEFINITIONS
from benchmark.providers import PROVIDERS
from benchmark.selectors import protocol_document, run_consistency, run_cut_off, run_scores
from benchmark.services import BenchmarkError, run_create, runs_interrupt_stale
from psychometrics.stats.dimensions import FAMILIES, PVQ
from results import selectors, welfare
from results.selectors import MAX_ID, ResultsError, record_id


class BadRequest(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Bad request."
    default_code = "bad_request"


class IsResearcher(BasePermission):
    message = "Creating runs needs a researcher account (a researcher of a study, or a member of the 'researchers' group)."

    def has_permission(self, request, view) -> bool:
        return selectors.is_researcher(request.user)


class Pagination(PageNumberPagination):
    """Page numbers from 1; a page or page_size that is not a positive integer is a 400, a page past the end a 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    invalid_page_message = "page {page_number} does not exist ({message})"

    def paginate_queryset(self, queryset, request, view=None):
        for name in (self.page_query_param, self.page_size_query_param):
            raw = request.query_params.get(name)
            if raw is not None and raw != "last" and record_id(raw) is None:
                raise BadRequest(f"{name} must be a positive integer, got {raw!r}")
        return super().paginate_queryset(queryset, request, view=view)


def _object_or_404(queryset, pk: int, what: str):
    obj = queryset.filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if obj is None:
        raise NotFound(f"no {what} with id {pk}")
    return obj


def _validated(serializer) -> dict:
    """The serializer's validated data; invalid input is a 400 ``{"detail": "<field>: <message>", "errors": {<field>: [...]}}``."""
    if not serializer.is_valid():
        message = "; ".join(f"{field}: {' '.join(str(m) for m in messages)}" for field, messages in serializer.errors.items())
        raise BadRequest({"detail": message, "errors": serializer.errors})
    return serializer.validated_data


def _query(serializer_class, request) -> dict:
    return _validated(serializer_class(data=request.query_params))


ERROR = inline_serializer("Error", fields={
    "detail": serializers.CharField(),
    "errors": serializers.DictField(required=False, help_text="Per-parameter messages, for a bad query or body field."),
})
PAGE_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, required=False, description="Page number (from 1)."),
    OpenApiParameter("page_size", OpenApiTypes.INT, required=False, description="Results per page (max 500)."),
]


def paged(name: str, serializer) -> serializers.Serializer:
    """The schema of a paginated list of ``serializer`` (as PageNumberPagination returns it)."""
    return inline_serializer(name, fields={
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": serializer(many=True),
    })


# --- items ----------------------------------------------------------------------------------------


class CorrelationSerializer(serializers.Serializer):
    family = serializers.CharField()
    dimension = serializers.CharField()
    rho = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField()


class ItemOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    itembank = serializers.CharField(source="bank.name")
    item_id = serializers.CharField()
    source = serializers.CharField()
    title = serializers.CharField()
    query = serializers.CharField()
    response = serializers.CharField()
    correlations = CorrelationSerializer(many=True, source="correlations.all")


class ItemListApi(APIView):
    """Benchmark items with all their correlations, filtered and paginated."""

    permission_classes = [AllowAny]

    class FilterSerializer(serializers.Serializer):
        itembank = serializers.CharField(required=False, help_text="Item bank id or name.")
        dimension = serializers.CharField(
            required=False, help_text="Items selected for this dimension: |rho| >= threshold and p < alpha.")
        family = serializers.ChoiceField(choices=list(FAMILIES), required=False,
                                         help_text="Items selected for any dimension of this family.")
        sign = serializers.ChoiceField(choices=list(selectors.SIGNS), required=False,
                                       help_text="Only positively (rho > 0) or negatively keyed selections.")
        source = serializers.CharField(required=False)
        search = serializers.CharField(required=False, help_text="Case-insensitive text in id, title, query or response.")
        threshold = serializers.FloatField(required=False, min_value=0, max_value=1, default=scoring.DEFAULT_THRESHOLD)
        alpha = serializers.FloatField(required=False, min_value=0, max_value=1, default=scoring.DEFAULT_ALPHA)

        def validate_alpha(self, value):
            if value <= 0:
                raise serializers.ValidationError("alpha must be greater than 0")
            return value

    @extend_schema(parameters=[FilterSerializer, *PAGE_PARAMETERS],
                   responses={200: paged("PaginatedItems", ItemOutputSerializer), 400: ERROR, 404: ERROR},
                   operation_id="items_list")
    def get(self, request):
        filters = _query(self.FilterSerializer, request)
        banks = selectors.banks_visible(request.user)
        try:
            if filters.get("itembank"):
                banks = banks.filter(pk=selectors.bank_resolve(filters["itembank"], request.user).pk)
            items = selectors.items_filtered(
                banks=banks, dimension=filters.get("dimension"), family=filters.get("family"), sign=filters.get("sign"),
                source=filters.get("source"), search=filters.get("search"), threshold=filters["threshold"],
                alpha=filters["alpha"],
            )
        except ResultsError as exc:
            raise BadRequest(str(exc)) from None
        paginator = Pagination()
        page = paginator.paginate_queryset(items.order_by("bank__name", "id"), request, view=self)
        return paginator.get_paginated_response(ItemOutputSerializer(page, many=True).data)


class ItemDetailApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: ItemOutputSerializer, 404: ERROR})
    def get(self, request, item_id: int):
        items = selectors.items_filtered(banks=selectors.banks_visible(request.user))
        return Response(ItemOutputSerializer(_object_or_404(items, item_id, "item")).data)


# --- item banks, models ---------------------------------------------------------------------------


class ItemBankListApi(APIView):
    permission_classes = [AllowAny]

    class ItemBankSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        version = serializers.CharField()
        description = serializers.CharField()
        is_private = serializers.BooleanField()
        item_count = serializers.IntegerField()
        run_count = serializers.IntegerField()
        created_at = serializers.DateTimeField()

    @extend_schema(parameters=PAGE_PARAMETERS, responses={200: paged("PaginatedItemBanks", ItemBankSerializer), 404: ERROR})
    def get(self, request):
        banks = selectors.banks_visible(request.user).annotate(
            item_count=Count("items", distinct=True), run_count=Count("runs", distinct=True)).order_by("name")
        paginator = Pagination()
        page = paginator.paginate_queryset(banks, request, view=self)
        return paginator.get_paginated_response(self.ItemBankSerializer(page, many=True).data)


class ModelListApi(APIView):
    """Evaluated models (and models known only from published results)."""

    permission_classes = [AllowAny]

    class ModelSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        display_name = serializers.CharField()
        provider = serializers.CharField()
        organization = serializers.CharField()
        is_published_only = serializers.BooleanField()
        run_count = serializers.IntegerField()

    @extend_schema(parameters=PAGE_PARAMETERS, responses={200: paged("PaginatedModels", ModelSerializer), 404: ERROR})
    def get(self, request):
        llms = LLM.objects.filter(runs__in=selectors.runs_visible(request.user)).annotate(
            run_count=Count("runs", distinct=True)).order_by("display_name", "name")
        paginator = Pagination()
        page = paginator.paginate_queryset(llms, request, view=self)
        return paginator.get_paginated_response(self.ModelSerializer(page, many=True).data)


class CredentialListApi(APIView):
    """The provider credentials you may name in a run (granted per study or group by the operator).

    Each credential's key stays on the server: this lists its name, provider, the hosts it may be
    sent to and whether the server has it set; never the key or the variable holding it.
    """

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsResearcher]

    class CredentialSerializer(serializers.Serializer):
        name = serializers.CharField()
        provider = serializers.CharField()
        hosts = serializers.ListField(child=serializers.CharField())
        is_set = serializers.BooleanField(help_text="Whether the server holds a key for it.")

    @extend_schema(responses={200: CredentialSerializer(many=True), 401: ERROR, 403: ERROR})
    def get(self, request):
        usable = credentials.usable_by(request.user)
        return Response(self.CredentialSerializer(
            [{"name": c.name, "provider": c.provider, "hosts": list(c.hosts), "is_set": c.is_set}
             for c in sorted(usable.values(), key=lambda c: c.name)], many=True).data)


# --- runs -----------------------------------------------------------------------------------------


PUBLIC_RUN_ERROR = "The run stopped with an error; the researchers who started it can see the details."


class RunOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    itembank = serializers.CharField(source="bank.name")
    model_id = serializers.IntegerField(source="llm_id")
    model = serializers.CharField()
    provider = serializers.CharField()
    base_url = serializers.SerializerMethodField(help_text="The endpoint, for the run's researchers only (null otherwise).")
    condition = serializers.CharField()
    source = serializers.CharField()
    status = serializers.CharField()
    settings = serializers.JSONField()
    protocol_digest = serializers.CharField(help_text="sha256 of the scoring protocol: runs compare only within one.")
    protocol = serializers.SerializerMethodField(
        help_text="The scoring protocol: digest, item bank, selection, mode, prompts, temperature, max_tokens, "
                  "provider_params, parser (docs/benchmark.md).")
    system_prompt = serializers.CharField()
    progress = serializers.SerializerMethodField()
    parse = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField(help_text="Why the run stopped; the provider's reply only for the run's researchers.")
    credential = serializers.SerializerMethodField(help_text="The operator-configured credential the run uses (its researchers only).")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    heartbeat_at = serializers.DateTimeField(
        allow_null=True, help_text="Last sign of life of the process executing the run; a running run without one for "
                                   "BENCHMARK_RUN_STALE_SECONDS is shown as interrupted.")

    def _manages(self, run) -> bool:
        request = self.context.get("request")
        return request is not None and selectors.run_is_managed_by(run, request.user)

    def get_error(self, run) -> str:
        if not run.error or self._manages(run):
            return run.error
        return PUBLIC_RUN_ERROR

    def get_credential(self, run) -> str | None:
        return (run.credential or None) if self._manages(run) else None

    def get_base_url(self, run) -> str | None:
        # Endpoints are never public: a self-hosted server's address is its researchers' business.
        return (run.base_url or None) if self._manages(run) else None

    def get_protocol(self, run) -> dict:
        return protocol_document(run)

    def get_progress(self, run) -> dict:
        fraction = run.progress_done / run.progress_total if run.progress_total else None
        return {"done": run.progress_done, "total": run.progress_total, "fraction": fraction}

    def get_parse(self, run) -> dict:
        return {"answered": run.answered, "parsed": run.parsed, "failed": run.failed, "rate": run.parse_rate}


class RunListCreateApi(APIView):
    """GET lists runs (filters below); POST creates a run and starts it on the Celery workers.

    The two operations share the URL; each has its own serializers and permission.
    """

    class FilterSerializer(serializers.Serializer):
        itembank = serializers.CharField(required=False, help_text="Item bank id or name.")
        model = serializers.CharField(required=False, help_text="Model name (as sent to the provider).")
        status = serializers.ChoiceField(choices=Run.Status.values, required=False)
        condition = serializers.CharField(required=False, help_text="'baseline', 'persona:<key>', 'steer:<value>', 'custom'.")
        source = serializers.ChoiceField(choices=Run.Source.values, required=False)

    class RunCreateInputSerializer(serializers.Serializer):
        itembank = serializers.CharField(help_text="Item bank id or name.")
        provider = serializers.ChoiceField(choices=sorted(PROVIDERS))
        model = serializers.CharField(max_length=200)
        base_url = serializers.URLField(required=False, allow_blank=True, max_length=500,
                                        help_text="A custom endpoint; only hosts the operator allows (BENCHMARK_ENDPOINT_HOSTS).")
        credential = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                           help_text="A credential granted to you (GET /api/v1/credentials/); default: "
                                                     "the provider's own for its endpoint, none for a custom endpoint.")
        settings = serializers.DictField(required=False, help_text=(
            "threshold, alpha, fdr (any of them overrides the bank's stored selection), mode, temperature (null or absent: 0 where the model accepts one), max_tokens "
            "(default 64), logprobs, params (provider parameters, e.g. {\"reasoning_effort\": \"low\"} or "
            "{\"thinking\": {\"type\": \"enabled\", \"budget_tokens\": 1024}}), preset (a reasoning preset: "
            "openai-reasoning, anthropic-thinking, anthropic-adaptive, inline-think, gemini-thinking), concurrency, "
            "max_attempts, timeout, min_parse_rate. A combination the model's API would refuse is a 400 naming why; "
            "the created run's settings.request records what it sends."))
        system_prompt = serializers.CharField(required=False, allow_blank=True)
        persona = serializers.ChoiceField(choices=sorted(PERSONAS), required=False)
        steer = serializers.ChoiceField(choices=list(VALUE_DEFINITIONS), required=False)

    # Token first, so an anonymous write gets 401 with "WWW-Authenticate: Token" rather than 403.
    authentication_classes = [TokenAuthentication, SessionAuthentication]

    def get_permissions(self):
        return [IsResearcher()] if self.request.method == "POST" else [AllowAny()]

    @extend_schema(parameters=[FilterSerializer, *PAGE_PARAMETERS],
                   responses={200: paged("PaginatedRuns", RunOutputSerializer), 400: ERROR, 404: ERROR},
                   operation_id="runs_list")
    def get(self, request):
        filters = _query(self.FilterSerializer, request)
        runs_interrupt_stale()  # a run whose worker died is listed as interrupted, not running
        runs = selectors.runs_visible(request.user).order_by("-created_at", "-id")
        try:
            if filters.get("itembank"):
                runs = runs.filter(bank=selectors.bank_resolve(filters["itembank"], request.user))
        except ResultsError as exc:
            raise BadRequest(str(exc)) from None
        for field in ("model", "status", "condition", "source"):
            if filters.get(field):
                runs = runs.filter(**{field: filters[field]})
        paginator = Pagination()
        page = paginator.paginate_queryset(runs, request, view=self)
        return paginator.get_paginated_response(RunOutputSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(request=RunCreateInputSerializer, responses={201: RunOutputSerializer, 400: ERROR, 401: ERROR, 403: ERROR})
    def post(self, request):
        from benchmark.tasks import run_benchmark_task

        data = _validated(self.RunCreateInputSerializer(data=request.data))
        try:
            bank = selectors.bank_resolve(data["itembank"], request.user)
            with transaction.atomic():
                run = run_create(
                    bank=bank, provider=data["provider"], model=data["model"], base_url=data.get("base_url") or None,
                    settings=data.get("settings"), system_prompt=data.get("system_prompt") or None,
                    persona=data.get("persona"), steer=data.get("steer"), user=request.user,
                    credential=data.get("credential") or None,
                )
                transaction.on_commit(lambda: run_benchmark_task.delay(run.pk))
        except (ResultsError, BenchmarkError, ValueError) as exc:
            raise BadRequest(str(exc)) from None
        run.refresh_from_db()
        return Response(RunOutputSerializer(run, context={"request": request}).data, status=status.HTTP_201_CREATED)


class RunDetailApi(APIView):
    """One run with its progress and parse counts (readable while it runs) and its Celery task's state."""

    permission_classes = [AllowAny]

    class RunDetailSerializer(RunOutputSerializer):
        task = serializers.SerializerMethodField()
        cut_off = serializers.SerializerMethodField(
            help_text="Answers that stopped at the token limit: count, share of the answers, and their finish "
                      "reasons (length, max_tokens, MAX_TOKENS). Many cut-off answers: raise max_tokens.")
        consistency = serializers.SerializerMethodField(
            help_text="Prompt sensitivity (benchmark.consistency): identical ratings under all six prompts, "
                      "Spearman rho between option orders, mean absolute rating shift, per-template profiles; "
                      "null for published rows.")

        def get_cut_off(self, run) -> dict:
            return run_cut_off(run)

        def get_consistency(self, run) -> dict | None:
            request = self.context.get("request")
            if selectors.run_scores_withheld(run, request.user if request else None):
                return None
            return run_consistency(run)

        def get_task(self, run) -> dict | None:
            from config.tasks import task_status

            if not run.celery_task_id:
                return None
            task = task_status(run.celery_task_id)
            if task["error"] and not self._manages(run):
                task["error"] = PUBLIC_RUN_ERROR  # the exception text quotes the provider's reply
            return task

    @extend_schema(responses={200: RunDetailSerializer, 404: ERROR})
    def get(self, request, run_id: int):
        runs_interrupt_stale()
        run = _object_or_404(selectors.runs_visible(request.user), run_id, "run")
        return Response(self.RunDetailSerializer(run, context={"request": request}).data)


class ScoreSerializer(serializers.Serializer):
    family = serializers.CharField()
    dimension = serializers.CharField()
    score = serializers.FloatField(allow_null=True, help_text="Centred: dimension mean minus the family's mean rating.")
    mean = serializers.FloatField(allow_null=True, help_text="Mean rating on the 1-6 scale.")
    sd = serializers.FloatField(allow_null=True)
    n_items = serializers.IntegerField()
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)


class RunScoresApi(APIView):
    """A run's scores per family and dimension (partial scores while it runs).

    A failed or interrupted run has none (``scores`` empty, ``withheld`` says why), except for the
    researchers who manage it, who get its provisional scores from the answers stored so far.
    """

    permission_classes = [AllowAny]

    @extend_schema(responses={200: inline_serializer("RunScores", fields={
        "run_id": serializers.IntegerField(), "status": serializers.CharField(), "source": serializers.CharField(),
        "withheld": serializers.CharField(allow_null=True, help_text="Why there are no scores (a failed or interrupted run)."),
        "scores": ScoreSerializer(many=True)}), 404: ERROR})
    def get(self, request, run_id: int):
        runs_interrupt_stale()
        run = _object_or_404(selectors.runs_visible(request.user), run_id, "run")
        withheld = selectors.run_scores_withheld(run, request.user)
        scores = [] if withheld else run_scores(run)
        return Response({"run_id": run.pk, "status": run.status, "source": run.source, "withheld": withheld,
                         "scores": ScoreSerializer(scores, many=True).data})


# --- leaderboard ----------------------------------------------------------------------------------


class LeaderboardRowSerializer(serializers.Serializer):
    """One model's row of the leaderboard (documents ``selectors.leaderboard`` rows in the schema)."""

    rank = serializers.IntegerField(help_text="Competition rank of welfare_low (equal values, equal rank).")
    rank_low = serializers.IntegerField(allow_null=True, help_text="Lower end of the bootstrap interval of the rank.")
    rank_high = serializers.IntegerField(allow_null=True, help_text="Upper end of the bootstrap interval of the rank.")
    tied = serializers.BooleanField(help_text="The rank interval overlaps a neighbour's, or the welfare equals one.")
    no_interval = serializers.ListField(child=serializers.CharField(),
                                        help_text="Dimensions without a bootstrap interval (fewer than 3 items), held fixed.")
    model_id = serializers.IntegerField()
    model = serializers.CharField()
    organization = serializers.CharField(help_text="The model's developer, where known.")
    run_id = serializers.IntegerField()
    source = serializers.CharField()
    values = serializers.DictField(child=serializers.FloatField(allow_null=True),
                                   help_text="The model's values of the board's value_kind (centred or mean).")
    utilities = serializers.DictField(child=serializers.FloatField(allow_null=True), help_text="Per-dimension utility in [0, 1].")
    value_basis = serializers.CharField(help_text="Where the values come from: 'score', 'mean', or derived from means.")
    welfare = serializers.FloatField(allow_null=True, help_text="Aggregate of the utilities, in [0, 1].")
    welfare_low = serializers.FloatField(allow_null=True, help_text="Lower end of the bootstrap interval of the welfare; rows are ranked by it.")
    welfare_high = serializers.FloatField(allow_null=True, help_text="Upper end of the bootstrap interval of the welfare.")
    max_dimension = serializers.CharField(allow_null=True)
    min_dimension = serializers.CharField(allow_null=True)
    max_dimensions = serializers.ListField(child=serializers.CharField(), help_text="Every dimension tied at the row maximum.")
    min_dimensions = serializers.ListField(child=serializers.CharField(), help_text="Every dimension tied at the row minimum.")


class LeaderboardApi(APIView):
    """Models ranked by a social welfare function of per-dimension utilities in [0, 1].

    ``question=closeness`` (default): utility = 1 - |model - target| / range, the target being the
    item bank's raters, a human reference profile, a self-test profile or a profile the client sets
    (``target``, ``profile``, ``profile_kind``). ``question=endorsement``: utility = (centred score +
    5) / 10; refused (400) for all dimensions of a family at equal weights and for Neuroticism.
    Every row carries a bootstrap rank interval and a tie mark. See docs/results.md.
    """

    permission_classes = [AllowAny]

    class FilterSerializer(serializers.Serializer):
        itembank = serializers.CharField(required=False, help_text="Item bank id or name (default: the one with most runs).")
        family = serializers.ChoiceField(choices=list(FAMILIES), required=False, default=PVQ)
        dimensions = serializers.CharField(required=False, help_text="Comma-separated dimensions (default: all of the family).")
        question = serializers.ChoiceField(choices=list(selectors.QUESTIONS), required=False, default=selectors.CLOSENESS)
        target = serializers.CharField(
            required=False, default="", allow_blank=True,
            help_text="closeness target: raters (the bank's raters; the default, else the shipped human profile), "
                      "gss-2012, bfi10-norms, reference:<id or name>, profile or self (with profile=).")
        profile = serializers.CharField(required=False, default="", allow_blank=True,
                                        help_text="Target values: Dimension:value pairs, or one value per dimension in the family's order.")
        profile_kind = serializers.ChoiceField(choices=list(welfare.SPANS), required=False, default=welfare.CENTRED,
                                               help_text="What the profile's values are: centred scores or mean ratings (1-6).")
        aggregate = serializers.ChoiceField(choices=list(welfare.AGGREGATIONS), required=False, default=welfare.UTILITARIAN)
        weights = serializers.CharField(required=False,
                                        help_text="Comma-separated weights in the order the dimensions are listed in `dimensions` (the family's order when it is omitted), or Dimension:weight pairs.")
        protocol = serializers.CharField(required=False, help_text="Scoring protocol digest (or its first 12+ hex digits) "
                                         "to compare within (default: the bank's default protocol, the paper's where present).")

    class LeaderboardSerializer(serializers.Serializer):
        itembank = serializers.CharField(allow_null=True)
        family = serializers.CharField()
        dimensions = serializers.ListField(child=serializers.CharField())
        question = serializers.CharField()
        question_text = serializers.CharField()
        target = inline_serializer("LeaderboardTarget", allow_null=True, fields={
            "key": serializers.CharField(), "label": serializers.CharField(), "kind": serializers.CharField(),
            "source": serializers.CharField(), "values": serializers.DictField(child=serializers.FloatField(allow_null=True))})
        value = serializers.CharField(help_text="'score' (centred) or 'mean': which number 'values' holds.")
        value_kind = serializers.CharField(help_text="'centred' or 'mean'; the target is of the same kind.")
        aggregate = serializers.CharField()
        weights = serializers.DictField(child=serializers.FloatField())
        confidence = serializers.FloatField(help_text="Coverage of the rank intervals.")
        rows = LeaderboardRowSerializer(many=True)
        protocol = serializers.JSONField(allow_null=True, help_text="The protocol every row was scored under.")
        protocols = serializers.JSONField(help_text="The bank's protocols (digest, short_digest, summary, runs, is_paper, fields).")

    @extend_schema(parameters=[FilterSerializer], responses={200: LeaderboardSerializer, 400: ERROR})
    def get(self, request):
        filters = _query(self.FilterSerializer, request)
        try:
            bank = (selectors.bank_resolve(filters["itembank"], request.user) if filters.get("itembank")
                    else selectors.bank_default(request.user))
            chosen = selectors.protocol_resolve(bank, filters.get("protocol"))
            board = selectors.leaderboard(bank=bank, family=filters["family"], dimensions=filters.get("dimensions"),
                                          aggregate=filters["aggregate"], weights=filters.get("weights"),
                                          question=filters["question"], target=filters["target"],
                                          profile=filters["profile"], profile_kind=filters["profile_kind"], protocol=chosen)
        except ResultsError as exc:
            raise BadRequest(str(exc)) from None
        return Response({**board.as_dict(), "protocol": chosen.as_dict() if chosen else None,
                         "protocols": [choice.as_dict() for choice in selectors.protocols_available(bank)]})


# --- human references -----------------------------------------------------------------------------


class ReferenceListApi(APIView):
    """Human reference groups (e.g. the ESS groups of the paper's Tables 9-12) with their values."""

    permission_classes = [AllowAny]

    class ReferenceSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()
        group_kind = serializers.CharField()
        kind = serializers.CharField(help_text="deviation (group − population), centred (a centred profile) or mean (mean ratings).")
        itembank = serializers.CharField(source="bank.name", allow_null=True, default=None,
                                         help_text="Set when this is the profile of an item bank's raters.")
        description = serializers.CharField()
        source = serializers.CharField()
        values = inline_serializer("ReferenceValue", many=True, fields={
            "family": serializers.CharField(), "dimension": serializers.CharField(), "value": serializers.FloatField()},
            source="values.all")

    @extend_schema(parameters=PAGE_PARAMETERS, responses={200: paged("PaginatedReferences", ReferenceSerializer), 404: ERROR})
    def get(self, request):
        # A bank's raters' profile is as visible as the bank.
        references = HumanReference.objects.filter(
            Q(bank__isnull=True) | Q(bank__in=selectors.banks_visible(request.user))
        ).select_related("bank").prefetch_related(
            Prefetch("values", queryset=HumanReferenceValue.objects.order_by("family", "dimension"))
        ).order_by("group_kind", "name")
        paginator = Pagination()
        page = paginator.paginate_queryset(references, request, view=self)
        return paginator.get_paginated_response(self.ReferenceSerializer(page, many=True).data)


