"""Reading a chat-completions Sora stream: progress, the video link, and failures in a 200.

Pure: lines go in (``ChatStreamState.feed``), the job's state comes out
(``ChatStreamState.snapshot``). What the relays send (TheSmallHanCat/sora2api
``src/services/generation_handler.py`` and ``src/api/routes.py``; issues #59, #90;
docs.laozhang.ai; see ``docs/dialects/chat.md``):

* ``data: {"object": "chat.completion.chunk", "choices": [{"delta": {"reasoning_content":
  "**Video Generation Progress**: 45% (processing)"}}]}`` - progress as text, in
  ``reasoning_content`` (sora2api) or ``content`` (copies: ``进度 76``);
* the final ``delta.content`` ``<video src='URL' controls></video>`` (sora2api), a markdown
  link or a bare ``.mp4`` URL (copies), ``finish_reason`` ``"STOP"``, then ``data: [DONE]``;
* failures inside the 200: ``data: {"error": {...}}`` then ``[DONE]``; a final text with no
  link (``❌ 生成失败: <reason>``); ``[DONE]`` written with escaped ``\\n`` (sora2api's
  Cloudflare branch), which still counts; or the stream simply ending.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from bot.core.models import TaskStatus
from bot.upstream.parsing import short_text

#: ``<video ... src='URL'`` (either quote).
_VIDEO_TAG = re.compile(r"""<video\b[^>]*?\bsrc\s*=\s*(['"])(?P<url>[^'"\s]+)\1""", re.I)
#: ``[any words](https://...)``.
_MARKDOWN_LINK = re.compile(r"\]\((?P<url>https?://[^)\s]+)\)")
#: A bare link to a video file.
_BARE_VIDEO_URL = re.compile(
    r"(?P<url>https?://[^\s'\"<>()]+?\.(?:mp4|mov|webm)(?:\?[^\s'\"<>()]*)?)"
)
#: ``45%``, ``45.5 %``, ``进度 76``.
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
_PROGRESS_WORD = re.compile(r"(?:进度|progress)\s*[:：]?\s*(\d{1,3})", re.I)
#: Words of a moderation refusal, in the relays' English and Chinese.
MODERATION_WORDS = re.compile(
    r"moderation|content[ _-]?polic|guardrail|violat|safety|unsafe|content[ _-]?filter|"
    r"违规|违反|审核|敏感|不安全",
    re.I,
)
_MODERATION_CODES = frozenset(
    {"moderation_blocked", "content_policy_violation", "content_filter", "sora_content_violation"}
)
#: A Sora error code embedded in a relay's message (``... "code": "sentinel_block" ...``).
_EMBEDDED_CODE = re.compile(r"""["']code["']\s*:\s*["']([A-Za-z0-9_.-]+)["']""")

#: How a failed stream tells the user that the money rule held.
NOT_RESENT = "It was not re-sent, to avoid paying twice."


@dataclass(frozen=True, slots=True)
class StreamOutcome:
    """Where the job stands now."""

    status: TaskStatus
    raw_status: str
    progress: int
    result_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(slots=True)
class ChatStreamState:
    """Everything one stream has said so far. ``feed`` each line, then ``snapshot``."""

    secret: str = ""
    progress: int = 0
    started: bool = False  # some progress text arrived
    done: bool = False  # ``[DONE]`` arrived
    finished: bool = False  # a choice carried a finish_reason (the final message)
    content: list[str] = field(default_factory=list)
    last_reasoning: str = ""
    error_code: str | None = None
    error_message: str | None = None
    broken: str | None = None  # why the stream ended without its end

    def feed(self, line: str) -> None:
        """One line of the SSE body. Comments, ``event:``/``id:`` lines and blanks are skipped."""
        if not line.startswith("data:"):
            return
        payload = line[5:].strip()
        if payload.startswith("[DONE]"):
            self.done = True
            return
        if not payload:
            return
        try:
            chunk = json.loads(payload)
        except ValueError:
            self.broken = self.broken or "the relay sent a line that is not JSON"
            return
        if isinstance(chunk, dict):
            self.feed_chunk(chunk)

    def feed_chunk(self, chunk: dict[str, object]) -> None:
        """One decoded chunk (or a whole non-stream ``chat.completion``)."""
        error = chunk.get("error")
        if error is not None:
            self._take_error(error)
            return
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return
        for choice in choices:
            if isinstance(choice, dict):
                self._take_choice(choice)

    def _take_choice(self, choice: dict[str, object]) -> None:
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            delta = choice.get("message")  # a non-stream answer
        if isinstance(delta, dict):
            reasoning = delta.get("reasoning_content")
            content = delta.get("content")
            if isinstance(reasoning, str) and reasoning:
                self.last_reasoning = reasoning
                self._take_progress(reasoning)
            if isinstance(content, str) and content:
                self.content.append(content)
                self._take_progress(content)
        if choice.get("finish_reason"):
            self.finished = True

    def _take_progress(self, text: str) -> None:
        self.started = True
        found = [float(m) for m in _PERCENT.findall(text)]
        found += [float(m) for m in _PROGRESS_WORD.findall(text)]
        if found:
            self.progress = max(self.progress, min(99, int(found[-1])))

    def _take_error(self, error: object) -> None:
        message: str | None = None
        code: str | None = None
        if isinstance(error, dict):
            raw_message, raw_code = error.get("message"), error.get("code")
            message = raw_message if isinstance(raw_message, str) else None
            code = raw_code if isinstance(raw_code, str) and raw_code else None
        elif isinstance(error, str):
            message = error
        if code is None and message:
            embedded = _EMBEDDED_CODE.search(message)
            code = embedded.group(1) if embedded else None
        self.error_code = code or "relay_error"
        self.error_message = message or "The relay reported an error."

    @property
    def text(self) -> str:
        return "".join(self.content)

    def result_url(self) -> str | None:
        """The video link, once the message that carries it is known to be whole."""
        text = self.text
        tag = _VIDEO_TAG.search(text)
        if tag is not None:
            return tag.group("url")
        if not (self.finished or self.done):
            return None
        for pattern in (_MARKDOWN_LINK, _BARE_VIDEO_URL):
            found = pattern.search(text)
            if found is not None:
                return found.group("url")
        return None

    def snapshot(self, *, ended: bool) -> StreamOutcome:
        """The job's state; ``ended``: the body is over (or was cut, or went silent)."""
        if self.error_code is not None:
            return self._failed(self.error_code, self.error_message or "")
        url = self.result_url()
        if url is not None:
            return StreamOutcome(TaskStatus.COMPLETED, "completed", 100, result_url=url)
        if self.done or (ended and self.finished):
            return self._refused()
        if ended:
            reason = self.broken or "the relay's stream ended before the video link"
            return self._failed(
                "stream_broken",
                f"The chat relay's stream broke off ({reason}). The relay may still have made "
                f"the video, but it cannot be asked for it. {NOT_RESENT}",
            )
        if self.started:
            return StreamOutcome(TaskStatus.IN_PROGRESS, "streaming", self.progress)
        return StreamOutcome(TaskStatus.QUEUED, "streaming", 0)

    def _refused(self) -> StreamOutcome:
        """The stream ended properly but without a link: the relay's last words say why."""
        said = self.text.strip() or self.last_reasoning.strip()
        if not said:
            return self._failed(
                "no_result", "The chat relay finished without a video link and gave no reason."
            )
        return self._failed("generation_failed", said, why=self.last_reasoning)

    def _failed(self, code: str, message: str, *, why: str = "") -> StreamOutcome:
        """A failed outcome; moderation wording in the code, message or ``why`` says which."""
        haystack = f"{code} {message} {why}"
        if code.lower() in _MODERATION_CODES or MODERATION_WORDS.search(haystack):
            code = "moderation_blocked"
        text = short_text(message, self.secret) if message else None
        return StreamOutcome(
            TaskStatus.FAILED, "failed", self.progress, error_code=code, error_message=text
        )
