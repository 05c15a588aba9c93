"""The LINE webhook (docs/notifications.md, hub/notify/line.py): LINE's platform posts the
official account's events here, signed with ``X-Line-Signature`` (base64 HMAC-SHA256 of the
raw body with the channel secret). A link message binds the sender to a ticket and is
answered in the chat; ``unfollow`` removes the user's bindings. A wrong signature is 403
and nothing is bound."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from hub.web.bodies import read_limited
from hub.web.routing import ApiRoute, json_response, services_of


async def webhook(request: Request) -> Response:
    services = services_of(request)
    raw = await read_limited(request, services.settings.max_body_bytes)
    account = request.path_params["account"]
    signature = request.headers.get("x-line-signature")
    return json_response(await services.notify.service.line_webhook(account, raw, signature))


ROUTES = [
    ApiRoute(
        "/v1/integrations/line/{account}/webhook",
        "POST",
        webhook,
        "LINE webhook: link codes bind a LINE user to a ticket; unfollow unbinds",
        access="public",
        responses={
            200: "{linked, unknown_codes, unfollowed}",
            400: "bad_json",
            403: "bad_signature: X-Line-Signature does not match (nothing bound)",
            404: "unknown_line_account | channel_unavailable (LINE not set up)",
        },
    ),
]
