"""The admin shows a researcher only their own studies and what belongs to them (issue 11, finding 5).

``is_staff`` lets a user into the admin; it does not widen what they see. Every admin of a model
that belongs to a study inherits :class:`StudyScopedAdmin`: its list, change pages, filters and
foreign-key choices hold only rows of studies the user is a researcher of. Superusers see all.
"""

from django.contrib import admin


def user_studies(user):
    from surveys.models import Study

    return Study.objects.filter(researchers=user)


class StudyScopedAdmin(admin.ModelAdmin):
    """``study_lookup``: the path from this model to its study ("" for Study itself)."""

    study_lookup = "study"

    def scope(self, request, queryset):
        if request.user.is_superuser:
            return queryset
        if not self.study_lookup:
            return queryset.filter(pk__in=user_studies(request.user).values("pk"))
        return queryset.filter(**{f"{self.study_lookup}__in": user_studies(request.user)})

    def get_queryset(self, request):
        return self.scope(request, super().get_queryset(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        from surveys.models import Study

        if not request.user.is_superuser:
            related = db_field.related_model
            if related is Study:
                kwargs["queryset"] = user_studies(request.user)
            elif any(f.name == "study" and f.related_model is Study for f in related._meta.get_fields()
                     if getattr(f, "related_model", None)):
                kwargs["queryset"] = related._default_manager.filter(study__in=user_studies(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        # Only superusers choose who researches a study: a researcher cannot add themselves to another one,
        # nor browse every account's name.
        if db_field.name == "researchers" and not request.user.is_superuser:
            kwargs["queryset"] = db_field.related_model._default_manager.filter(studies__in=user_studies(request.user)).distinct()
        return super().formfield_for_manytomany(db_field, request, **kwargs)


def only_related(field: str):
    """A list filter offering only the values of rows the user can see (not every study's name)."""
    return (field, admin.RelatedOnlyFieldListFilter)
