"""Helplines (BOWOUT_CRISIS_RESOURCES) with their numbers as links a phone can dial or text."""

import re

from django import template
from django.utils.html import escape, format_html, urlize
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# A number people dial: 3 or more digits, maybe grouped by spaces or dashes ("988", "116 123", "+1 800-273-8255").
NUMBER = re.compile(r"\+?\d[\d \-]*\d")
TEXTS = re.compile(r"\btext\b", re.IGNORECASE)


def _dial(number: str) -> str:
    return re.sub(r"[^\d+]", "", number)


@register.filter
def helpline_links(contact: str) -> SafeString:
    """The contact text, escaped, with each number a `tel:` link (and a `sms:` link when it says "text")
    and web addresses as links."""
    numbers = [m.group(0) for m in NUMBER.finditer(contact) if len(_dial(m.group(0))) >= 3]
    if not numbers or "://" in contact:
        return mark_safe(urlize(contact, autoescape=True))
    html = str(escape(contact))
    for number in dict.fromkeys(numbers):
        link = format_html('<a href="tel:{}">{}</a>', _dial(number), number)
        html = re.sub(rf"(?<![\d>#x&;]){re.escape(number)}(?![\d<;])", link, html, count=1)
    if TEXTS.search(contact):
        html += str(format_html(' · <a href="sms:{}">Text {}</a>', _dial(numbers[0]), numbers[0]))
    return mark_safe(html)  # noqa: S308  # built from escaped text and format_html only
