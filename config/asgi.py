import os
import threading

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Build the Django app first: it sets up the app registry that the consumers' imports need.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat import recognise, workers  # noqa: E402
from chat.routing import websocket_urlpatterns  # noqa: E402
from config.origins import SameOriginValidator  # noqa: E402

# The welfare policy's classifier is loaded (or trained once and cached) before the first message needs it.
threading.Thread(target=recognise.warm_up, name="recogniser-warm-up", daemon=True).start()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))  # type: ignore[arg-type]  # see chat/routing.py
        ),
        # Shutdown (SIGTERM) drains this worker's streaming replies first.
        "lifespan": workers.lifespan,
    }
)
