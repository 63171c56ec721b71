"""The secret key that signs sessions, CSRF tokens and API tokens: never built in.

It comes from `SECRET_KEY` (env `WHISTLE_SECRET_KEY`) or from a key file named by `SECRET_KEY_FILE`
(env `WHISTLE_SECRET_KEY_FILE`) that only its owner may read. `make run` keeps one random key per
install in `default_key_path()`, outside the source tree.
"""
from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

MIN_LENGTH = 32
# keys published in this project's history: never accepted
KNOWN_KEYS = frozenset({"dev-only-change-me"})
SOURCE_TREE = Path(__file__).resolve().parent.parent


class SecretKeyError(RuntimeError):
    """No usable secret key: the message says what to set."""


HOW = ("set WHISTLE_SECRET_KEY (at least 32 random characters) or WHISTLE_SECRET_KEY_FILE "
       "(a file readable only by its owner; `whistle secret-key` creates one)")


def default_key_path() -> Path:
    """$XDG_CONFIG_HOME/whistle-report/secret_key (default ~/.config/whistle-report/secret_key)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "whistle-report" / "secret_key"


def read_key_file(path: str | os.PathLike) -> str:
    path = Path(path)
    try:
        mode = path.stat().st_mode
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretKeyError(f"secret key file {path}: {exc.strerror or exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretKeyError(f"secret key file {path} can be read by others: `chmod 600 {path}`")
    return key


def ensure_key_file(path: str | os.PathLike | None = None) -> Path:
    """The key file at `path` (default: default_key_path()), created with a random key and mode
    0600 when missing; never inside the source tree."""
    path = Path(path) if path else default_key_path()
    target = path.expanduser().resolve()
    if target == SOURCE_TREE or SOURCE_TREE in target.parents:
        raise SecretKeyError(f"{path} is inside the source tree ({SOURCE_TREE}): keep the secret key outside it")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # created meanwhile by another process
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(secrets.token_urlsafe(48) + "\n")
    check(read_key_file(target), str(target))
    return target


def configured(config, *, strict: bool = True) -> str | None:
    """The secret key `config` names (SECRET_KEY, else SECRET_KEY_FILE), checked (length and known
    keys only when `strict`, i.e. outside tests); None if neither is set."""
    key = config.get("SECRET_KEY")
    if key not in (None, ""):
        return check(str(key), "SECRET_KEY", strict=strict)
    path = config.get("SECRET_KEY_FILE")
    if path:
        return check(read_key_file(str(path)), f"secret key file {path}", strict=strict)
    return None


def check(key: str, where: str, *, strict: bool = True) -> str:
    if not strict:
        if not key:
            raise SecretKeyError(f"{where} is empty: {HOW}")
        return key
    if key in KNOWN_KEYS:
        raise SecretKeyError(f"{where} is a published key: {HOW}")
    if len(key) < MIN_LENGTH:
        raise SecretKeyError(f"{where} is too short ({len(key)} characters, at least {MIN_LENGTH}): {HOW}")
    return key


def temporary() -> str:
    """A random key for one run of a demo server on a loopback address (sessions end with it)."""
    return secrets.token_urlsafe(48)
