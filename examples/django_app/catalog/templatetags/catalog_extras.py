from django import template

register = template.Library()


@register.filter
def stars(rating):
    """4 -> '★★★★☆'"""
    try:
        rating = max(0, min(5, int(rating)))
    except (TypeError, ValueError):
        return ""
    return "\u2605" * rating + "\u2606" * (5 - rating)
