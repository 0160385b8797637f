"""Telling, without creating anything, whether a server speaks the ``/v1/videos`` family.

Two requests at most (``OpenAIVideosClient.probe``): ``GET /videos?limit=1`` (a list
answer settles it, and shows the relay can list), else ``GET /videos/<made-up id>``,
whose answer is read in each relay's own words (sources in docs/dialects/openai.md):

* OpenAI: 404 in its error envelope naming the video ("Video with id ... not found")
  is "no such id": the route exists. ``Invalid URL (GET /v1/...)`` is "no such route".
* new-api: 400 ``{"code": "task_not_exist"}`` is "no such id"; its router answers an
  unknown path with the same ``Invalid URL (...)`` 404 as OpenAI.
* LiteLLM's proxy cannot route an id it did not issue: it answers 500
  ``litellm.APIConnectionError: ...``. A 500 carrying LiteLLM's marks (an ``x-litellm-*``
  header, or a message starting ``litellm.``) is therefore "the route exists"; a 500
  without them proves nothing. FastAPI's ``{"detail": "Not Found"}`` is "no such route".
"""

from __future__ import annotations

from bot.upstream.failures import is_route_missing
from bot.upstream.parsing import error_info
from bot.upstream.values import ProbeAnswer

#: What a LiteLLM proxy error message starts with (its exception class names).
_LITELLM_MESSAGE_PREFIX = "litellm."


def lists_videos(answer: ProbeAnswer) -> bool:
    """Whether a ``GET /videos?limit=1`` answer is a video list."""
    body = answer.json
    return answer.status == 200 and isinstance(body, dict) and isinstance(body.get("data"), list)


#: What new-api's ``/v1/videos`` routes lack (QuantumNous/new-api ``router/video-router.go``:
#: no list, no edits, no extensions, no DELETE); its unknown-id answer (400 task_not_exist)
#: shows it.
NEW_API_LACKS = frozenset({"list", "edits", "extend", "delete"})


def knows_video_route(answer: ProbeAnswer) -> tuple[bool, str]:
    """(speaks, why) for the answer to ``GET /videos/<made-up id>``."""
    info = error_info(answer.json)
    status = answer.status
    if info is None:
        return False, f"HTTP {status} without an error body this dialect uses"
    if status in (404, 405) and is_route_missing(info):
        return False, f"HTTP {status}: no such route ({info.message})"
    if (
        status == 404
        and isinstance(answer.json, dict)
        and isinstance(answer.json.get("error"), dict)
    ):
        return True, "HTTP 404: no such video (the route exists)"
    if status == 400 and (info.code or "").lower() == "task_not_exist":
        return True, "HTTP 400 task_not_exist: no such task (new-api's /v1/videos)"
    if status == 500 and _from_litellm(answer, info.message):
        return True, "HTTP 500 from LiteLLM: it cannot route an id it did not issue"
    return False, f"HTTP {status}: not this dialect's answer to an unknown id"


def _from_litellm(answer: ProbeAnswer, message: str | None) -> bool:
    if any(name.startswith("x-litellm-") for name in answer.headers):
        return True
    return (message or "").startswith(_LITELLM_MESSAGE_PREFIX)
