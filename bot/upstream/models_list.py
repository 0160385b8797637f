"""``GET /v1/models``: the one request every OpenAI-compatible relay answers.

It creates nothing and needs the key, so it is both the credential check and the first
step of dialect detection (the ids it lists name the video models a relay offers).
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.upstream.failures import Operation
from bot.upstream.parsing import MalformedAnswer
from bot.upstream.transport import Transport

#: At most this many ids are kept from a (possibly huge) model list.
MAX_LISTED_MODELS = 2000


def _model_ids(data: object, _headers: Mapping[str, str], _secret: str) -> tuple[str, ...]:
    """The ids of ``{"object": "list", "data": [{"id": ...}, ...]}`` (or a bare list)."""
    items = data.get("data") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise MalformedAnswer("the model list is not a list")
    ids = []
    for item in items[:MAX_LISTED_MODELS]:
        value = item.get("id") if isinstance(item, dict) else item
        if isinstance(value, str) and value.strip():
            ids.append(value.strip())
    return tuple(ids)


async def list_models(transport: Transport) -> tuple[str, ...]:
    """The model ids the relay lists for this key.

    401/403 raise ``UpstreamAuthError``; a 404 raises ``UpstreamNotFound`` (no
    OpenAI-compatible API at this address); transient failures are retried, then raised.
    """
    return await transport.request(Operation.RETRIEVE, "GET", "/models", _model_ids)
