"""Kept originals: signed, expiring links to them, and their removal after retention.

Only with ``[media] public_url`` set (``originals_for`` gives None otherwise, and delivery
then discards every download as before). The original download of each finished video
is moved to ``media_dir/originals/<id>.mp4``; the file's mtime is the moment it was kept,
so retention survives restarts without a database column: a file is removed once
``mtime + retention`` has passed (``Originals.sweep``, run by the deliverer).

A link is ``{public_url}/media/<id>.mp4?exp=<unix>&sig=<hex>`` where ``sig`` is
HMAC-SHA256 over ``"<id>.mp4:<exp>"`` with ``$SORA_BOT_MEDIA_SECRET``, and ``exp`` is
the end of retention: the link and the file end together. Verification compares in
constant time (``hmac.compare_digest``). Ids are checked against ``[a-z0-9]{6,8}`` before
any path is built, so no name can leave the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from bot.config import MediaConfig
from bot.core.clock import Clock, utc_now
from bot.delivery.notifier import OriginalLink

log = logging.getLogger(__name__)

#: The file names the media server answers for: a task id and ``.mp4``.
FILE_NAME = re.compile(r"([a-z0-9]{6,8})\.mp4")
ORIGINALS = "originals"


class BadSignature(Exception):
    """A media request without a valid, unexpired signature."""


class NotKept(Exception):
    """A media request for a file that is not kept (or is no file name of ours)."""


class MediaSigner:
    """Signs and checks ``(file name, expiry)`` pairs with one secret."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a media signer needs a secret")
        self._key = secret.encode()

    def __repr__(self) -> str:
        return "MediaSigner(<secret>)"

    def signature(self, name: str, expires: int) -> str:
        """The hex HMAC-SHA256 of ``"<name>:<expires>"``."""
        message = f"{name}:{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(self, name: str, expires: str, signature: str, *, now: float) -> bool:
        """Whether ``signature`` signs ``name`` until ``expires`` and that is not past ``now``."""
        if not expires.isdigit() or int(expires) <= now:
            return False
        expected = self.signature(name, int(expires))
        return hmac.compare_digest(expected.encode(), signature.encode())


class Originals:
    """The folder of kept originals, their links, and their removal after retention."""

    def __init__(
        self,
        *,
        folder: Path,
        public_url: str,
        signer: MediaSigner,
        retention: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self.folder = folder
        self.public_url = public_url.rstrip("/")
        self.signer = signer
        self.retention = retention
        self.clock = clock

    def path_of(self, task_id: str) -> Path | None:
        """Where ``task_id``'s original is kept; None for anything that is not an id."""
        if FILE_NAME.fullmatch(f"{task_id}.mp4") is None:
            return None
        return self.folder / f"{task_id}.mp4"

    def keep(self, task_id: str, download: Path) -> Path:
        """Move the download into the folder (its retention starts now); the new path."""
        dest = self.path_of(task_id)
        if dest is None:
            raise ValueError(f"not a task id: {task_id!r}")
        self.folder.mkdir(parents=True, exist_ok=True)
        os.replace(download, dest)
        now = self.clock().timestamp()
        os.utime(dest, (now, now))
        return dest

    def link(self, task_id: str) -> OriginalLink | None:
        """The signed link to the kept original, None when none is kept (or it expired)."""
        path = self.path_of(task_id)
        try:
            stat = path.stat() if path is not None else None
        except FileNotFoundError:
            return None
        if stat is None:
            return None
        expires = int(stat.st_mtime + self.retention.total_seconds())
        if expires <= self.clock().timestamp():
            return None
        name = f"{task_id}.mp4"
        query = urlencode({"exp": expires, "sig": self.signer.signature(name, expires)})
        return OriginalLink(
            url=f"{self.public_url}/media/{name}?{query}",
            size=stat.st_size,
            expires_at=datetime.fromtimestamp(expires, UTC),
        )

    def servable(self, name: str, expires: str, signature: str) -> Path:
        """The file a media request may have (see ``bot.delivery.media_server``).

        Raises ``BadSignature`` without a valid, unexpired signature (checked first, so
        an unsigned request learns nothing) and ``NotKept`` when nothing is kept by that
        name.
        """
        match = FILE_NAME.fullmatch(name)
        if match is None:
            raise NotKept(name)
        if not self.signer.verify(name, expires, signature, now=self.clock().timestamp()):
            raise BadSignature(name)
        path = self.folder / name
        if not path.is_file():
            raise NotKept(name)
        return path

    def remove(self, task_id: str) -> None:
        """Remove a kept original now (its task will never be posted)."""
        path = self.path_of(task_id)
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def sweep(self) -> int:
        """Remove the originals whose retention has passed; how many were removed."""
        if not self.folder.is_dir():
            return 0
        cutoff = self.clock().timestamp() - self.retention.total_seconds()
        removed = 0
        for path in self.folder.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if path.is_file() and path.stat().st_mtime <= cutoff:
                    path.unlink()
                    removed += 1
        if removed:
            log.info("removed %d originals kept longer than %s", removed, self.retention)
        return removed


def originals_for(media: MediaConfig, media_dir: Path, clock: Clock = utc_now) -> Originals | None:
    """The kept originals the config asks for; None without ``public_url``."""
    if not media.keeps_originals:
        return None
    return Originals(
        folder=media_dir / ORIGINALS,
        public_url=media.public_url,
        signer=MediaSigner(media.secret.reveal()),
        retention=media.retention,
        clock=clock,
    )
