"""Who may use the review screen, and how they prove it.

Three ways to know a reviewer, strongest first:

1. **Streamlit authentication** (``st.login`` with an OIDC provider in ``secrets.toml``): the
   identity comes from the provider; the reviewers file, when there is one, gives the role
   (people not listed are viewers).
2. **A reviewers file** (``--reviewers FILE``, ``LABELGATE_REVIEWERS`` or
   ``<LABELGATE_HOME>/reviewers.toml``): people pick their name from the list and, when the
   file sets ``token_hash``, type the shared token.
3. **Nothing configured**: a typed name (role reviewer). Anonymous decisions are refused.

The file stores only a salted scrypt hash of the shared token (``labelgate review
--hash-token`` prints it); tokens are compared with :func:`hmac.compare_digest`::

    token_hash = "scrypt$16384$8$1$<salt hex>$<hash hex>"

    [[reviewers]]
    name = "Ana Lima"
    role = "reviewer"            # reviewer (decides) or viewer (looks only)
    email = "ana@example.com"    # optional: matches st.login identities
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from labelgate.errors import ConfigError, ReviewerError
from labelgate.settings import REVIEWERS, home_dir

Role = Literal["reviewer", "viewer"]
ROLES: tuple[Role, ...] = ("reviewer", "viewer")
MAX_NAME = 100
_SCRYPT = (16384, 8, 1)


@dataclass(frozen=True)
class Reviewer:
    """A person acting on the review screen; ``identity`` says how we know who they are."""

    name: str
    role: Role = "reviewer"
    identity: str = "typed"

    @property
    def can_decide(self) -> bool:
        return self.role == "reviewer"


def check_reviewer(reviewer: Reviewer | None) -> Reviewer:
    """The reviewer, if they may record a decision; :class:`ReviewerError` otherwise."""
    if reviewer is None or not reviewer.name.strip():
        raise ReviewerError("a decision needs a reviewer: enter your name (or sign in) before deciding")
    if reviewer.role not in ROLES:
        raise ReviewerError(f"unknown role {reviewer.role!r} for {reviewer.name}: use reviewer or viewer")
    if not reviewer.can_decide:
        raise ReviewerError(
            f"{reviewer.name} is a viewer: viewers can look but not decide (make them a reviewer in the reviewers file)"
        )
    return reviewer


def typed_reviewer(name: str | None) -> Reviewer:
    """A reviewer identified only by the name they typed (no reviewers file configured)."""
    clean = " ".join((name or "").split())
    if not clean:
        raise ReviewerError("a decision needs a reviewer: enter your name before deciding")
    if len(clean) > MAX_NAME:
        raise ReviewerError(f"a reviewer name has at most {MAX_NAME} characters")
    return Reviewer(clean, "reviewer", "typed")


def hash_token(token: str, *, salt: bytes | None = None) -> str:
    """The line-ready hash of a shared token: ``scrypt$N$r$p$<salt>$<hash>``."""
    if not token:
        raise ConfigError("the shared token is empty: choose a long random one")
    n, r, p = _SCRYPT
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(token.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify_token(token: str, stored: str) -> bool:
    """Whether ``token`` matches a hash made by :func:`hash_token` (constant-time compare)."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            token.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected) // 2
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(digest.hex(), expected)


@dataclass(frozen=True)
class Entry:
    name: str
    role: Role
    email: str | None = None


@dataclass(frozen=True)
class ReviewerDirectory:
    """The reviewers file: listed people, their roles, and the optional shared-token hash."""

    path: Path
    entries: tuple[Entry, ...]
    token_hash: str | None = None
    by_name: dict[str, Entry] = field(default_factory=dict, compare=False)

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    @property
    def needs_token(self) -> bool:
        return self.token_hash is not None

    def sign_in(self, name: str | None, token: str | None = None) -> Reviewer:
        """The listed person ``name``, after checking the shared token when one is set."""
        entry = self.by_name.get((name or "").strip())
        if entry is None:
            raise ReviewerError(f"{name or 'nobody'} is not in {self.path}: pick a listed name")
        if self.token_hash is not None and not verify_token(token or "", self.token_hash):
            raise ReviewerError("wrong or missing shared token: ask your QA lead for it")
        return Reviewer(entry.name, entry.role, "token" if self.token_hash else "reviewers-file")

    def for_login(self, email: str | None, name: str | None) -> Reviewer:
        """The role of someone signed in with ``st.login``; people not listed are viewers."""
        display = (name or email or "").strip()
        if not display:
            raise ReviewerError("the identity provider returned neither a name nor an email")
        for entry in self.entries:
            if (email and entry.email and entry.email.lower() == email.lower()) or entry.name == display:
                return Reviewer(entry.name, entry.role, "oidc")
        return Reviewer(display, "viewer", "oidc")


def default_path() -> Path:
    configured = REVIEWERS.get()
    return Path(configured) if configured else home_dir() / "reviewers.toml"


def load_directory(path: str | Path | None = None) -> ReviewerDirectory | None:
    """The reviewers file at ``path`` (must exist), else the configured or default one if present."""
    explicit = path is not None or bool(REVIEWERS.get())
    target = Path(path) if path is not None else default_path()
    if not target.is_file():
        if explicit:
            raise ConfigError(f"{target}: no such reviewers file: create it (see README, 'Review screen')")
        return None
    try:
        data = tomllib.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{target}: not a readable TOML reviewers file ({exc})") from None
    return parse_directory(data, target)


def parse_directory(data: dict[str, Any], path: Path) -> ReviewerDirectory:
    unknown = sorted(set(data) - {"token_hash", "reviewers"})
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}: use token_hash and [[reviewers]]")
    token_hash = data.get("token_hash")
    if token_hash is not None and (not isinstance(token_hash, str) or not token_hash.startswith("scrypt$")):
        raise ConfigError(f"{path}: token_hash must be a hash from `labelgate review --hash-token`, never the token")
    rows = data.get("reviewers", [])
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"{path}: list at least one person under [[reviewers]]")
    entries: list[Entry] = []
    by_name: dict[str, Entry] = {}
    for index, row in enumerate(rows, 1):
        where = f"{path}: reviewer {index}"
        if not isinstance(row, dict):
            raise ConfigError(f"{where} is not a table: write [[reviewers]] with name = ...")
        extra = sorted(set(row) - {"name", "role", "email"})
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(extra)}: use name, role and email")
        name = " ".join(str(row.get("name", "")).split())
        if not name or len(name) > MAX_NAME:
            raise ConfigError(f"{where}: give a name of 1 to {MAX_NAME} characters")
        role = row.get("role", "reviewer")
        if role not in ROLES:
            raise ConfigError(f"{where} ({name}): role {role!r} is unknown: use reviewer or viewer")
        if name in by_name:
            raise ConfigError(f"{where}: {name} is listed twice")
        email = row.get("email")
        entry = Entry(name, role, str(email) if email else None)
        entries.append(entry)
        by_name[name] = entry
    return ReviewerDirectory(path, tuple(entries), token_hash, by_name)
