"""Template filters of the researcher pages."""

from django import template

from surveys.study_setup import user_may_create_studies

register = template.Library()


@register.filter
def may_create_studies(user) -> bool:
    return user_may_create_studies(user)
