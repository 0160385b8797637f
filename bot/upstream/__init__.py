"""The video service: HTTP transport with the money rule, answer parsing, dialect adapters.

Callers hold a ``VideoProvider`` (``provider.py``), one adapter per relay dialect:
``OpenAIVideosClient`` (``openai_videos.py``), ``ChatCompletionsClient``
(``chat_completions.py``), ``GenerationsClient`` (``generations.py``) and
``VideoCreateClient`` (``video_create.py``); ``factory.py`` builds the one a detection
(``detect.py``) or the config names. The layers under them:
``transport.py`` (httpx, timeouts, retries, capped downloads), ``failures.py`` (what a
failed attempt means, and the money rule), ``parsing.py`` (lenient reading of answers),
``values.py`` (what crosses the boundary).
"""

from bot.upstream.chat_completions import ChatCompletionsClient
from bot.upstream.failures import RETRY_AFTER_LIMIT, Operation
from bot.upstream.generations import GenerationsClient
from bot.upstream.openai_videos import (
    CREDENTIAL_PROBE_ID,
    OPENAI_VIDEOS_CAPABILITIES,
    OpenAIVideosClient,
)
from bot.upstream.parsing import (
    MalformedAnswer,
    normalize_status,
    parse_job,
    parse_progress,
    parse_retry_after,
)
from bot.upstream.provider import Variant, VideoProvider
from bot.upstream.transport import RetrySettings, Transport
from bot.upstream.values import Download, ReferenceImage, UpstreamJob, VideoCapabilities
from bot.upstream.video_create import VideoCreateClient

__all__ = [
    "CREDENTIAL_PROBE_ID",
    "ChatCompletionsClient",
    "GenerationsClient",
    "OPENAI_VIDEOS_CAPABILITIES",
    "RETRY_AFTER_LIMIT",
    "Download",
    "MalformedAnswer",
    "OpenAIVideosClient",
    "Operation",
    "ReferenceImage",
    "RetrySettings",
    "Transport",
    "UpstreamJob",
    "Variant",
    "VideoCapabilities",
    "VideoCreateClient",
    "VideoProvider",
    "normalize_status",
    "parse_job",
    "parse_progress",
    "parse_retry_after",
]
