from django.conf import settings
from django.http import HttpRequest

from chat import claude, fragments


def bowout(request: HttpRequest) -> dict:
    return {
        "offline_demo": claude.is_offline(),
        "max_message_chars": f"{settings.BOWOUT_MAX_MESSAGE_CHARS:,}",
        "crisis_resources": settings.BOWOUT_CRISIS_RESOURCES,
        "model_picker": fragments.model_picker(),
        "available_models": claude.available_models(),
    }
