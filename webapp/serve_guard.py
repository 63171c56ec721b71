"""May `whistle serve` run this database on this address with this configuration?

- Demo officers (password `demo1234`, only in a database made with `whistle init --demo`) are
  served on a loopback address only.
- A secret key must be configured (see webapp.secret_key), except for a demo database on a
  loopback address, which gets a random key for that run.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class ServeRefused(RuntimeError):
    """The server must not start: the message says why and what to do."""


@dataclass
class ServeDecision:
    config: dict = field(default_factory=dict)   # passed to create_app
    notes: list[str] = field(default_factory=list)


def is_loopback(host: str) -> bool:
    host = (host or "").strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def decide(session, host: str, environ=os.environ) -> ServeDecision:
    from governance.demo import DEMO_PASSWORD, is_demo_database
    from governance.officers import demo_officers

    from .secret_key import SecretKeyError, configured, temporary

    loopback = is_loopback(host)
    count, names = demo_officers(session)
    if count and not loopback:
        more = f" and {count - len(names)} more" if count > len(names) else ""
        raise ServeRefused(
            f"refusing to serve on {host}: the database still has {count} demo officer(s) with the published "
            f"password {DEMO_PASSWORD} ({', '.join(names)}{more}). Give them new passwords or deactivate them "
            "(administrator: 系统管理 → 用户), or use a database made without --demo; "
            "a demo database is served on 127.0.0.1 only.")
    try:
        key = configured({"SECRET_KEY": environ.get("WHISTLE_SECRET_KEY"),
                          "SECRET_KEY_FILE": environ.get("WHISTLE_SECRET_KEY_FILE")})
    except SecretKeyError as exc:
        raise ServeRefused(f"refusing to serve: {exc}") from None
    decision = ServeDecision()
    if key is None:
        if not (loopback and is_demo_database(session)):
            from .secret_key import HOW
            raise ServeRefused(f"refusing to serve on {host}: no secret key configured; {HOW}. "
                               "(Only a demo database on 127.0.0.1 runs without one.)")
        decision.config["SECRET_KEY"] = temporary()
        decision.notes.append("no secret key configured: this demo server uses a random key for this run "
                              "(everyone is logged out when it stops)")
    return decision
