"""Photos of a whistle, stored on disk under UPLOAD_FOLDER (default: <instance>/uploads).

Only JPEG, PNG, GIF and WebP images are accepted (checked by their first bytes, not by the
name), each at most MAX_PHOTO_BYTES, at most MAX_PHOTOS per whistle, together at most
MAX_UPLOAD_BYTES per request and MAX_WHISTLE_PHOTO_BYTES per whistle (settings; the defaults
below). The whistle's `attachments`
list keeps {name, file, size, content_type}; `file` is relative to UPLOAD_FOLDER.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

from flask import current_app

SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
)


DEFAULT_MAX_UPLOAD_BYTES = 12 * 1024 * 1024          # photos of one request together
DEFAULT_MAX_WHISTLE_PHOTO_BYTES = 20 * 1024 * 1024   # photos of one whistle together


class UploadRefused(ValueError):
    pass


def _kind(head: bytes):
    for magic, ctype, ext in SIGNATURES:
        if head.startswith(magic):
            return ctype, ext
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


def folder() -> Path:
    path = Path(current_app.config["UPLOAD_FOLDER"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def check(files, existing=()) -> list[tuple]:
    """[(storage, bytes, content_type, ext)] of the non-empty uploads, or UploadRefused.
    `existing`: the whistle's attachments so far (they count towards its limits)."""
    files = [f for f in files if f and f.filename]
    existing = [a for a in existing or () if isinstance(a, dict)]
    limit = current_app.config["MAX_PHOTOS"]
    if len(files) + len(existing) > limit:
        raise UploadRefused(("too_many", limit))
    request_cap = current_app.config.get("MAX_UPLOAD_BYTES") or DEFAULT_MAX_UPLOAD_BYTES
    whistle_cap = current_app.config.get("MAX_WHISTLE_PHOTO_BYTES") or DEFAULT_MAX_WHISTLE_PHOTO_BYTES
    already = sum(int(a.get("size") or 0) for a in existing)
    out, total = [], 0
    max_bytes = current_app.config["MAX_PHOTO_BYTES"]
    for f in files:
        data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise UploadRefused(("too_big", f.filename))
        total += len(data)
        if total > request_cap or already + total > whistle_cap:
            raise UploadRefused(("too_much", min(request_cap, whistle_cap - already)))
        kind = _kind(data[:16])
        if kind is None:
            raise UploadRefused(("not_image", f.filename))
        out.append((f, data, *kind))
    return out


def store(checked) -> list[dict]:
    saved = []
    base = folder()
    for f, data, ctype, ext in checked:
        rel = f"{uuid.uuid4().hex}{ext}"
        (base / rel).write_bytes(data)
        saved.append({"name": os.path.basename(f.filename)[:200], "file": rel, "size": len(data),
                      "content_type": ctype})
    return saved


def discard(saved: list[dict]) -> None:
    for item in saved:
        try:
            (folder() / item["file"]).unlink()
        except OSError:
            pass


def path_of(attachment: dict) -> Path | None:
    rel = attachment.get("file") or ""
    if not rel or "/" in rel or "\\" in rel or rel.startswith("."):
        return None
    path = folder() / rel
    return path if path.is_file() else None
