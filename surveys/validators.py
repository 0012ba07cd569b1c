"""Field validators of the surveys models (a module of their own, so migrations can import them)."""


def validate_time_zone(value: str) -> None:
    """An IANA time zone name (``zoneinfo``), e.g. ``Europe/Berlin``."""
    import zoneinfo

    from django.core.exceptions import ValidationError

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a time zone name; use one like Europe/Berlin, America/New_York or UTC.") from None
