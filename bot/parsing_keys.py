"""/ssh_key: an OpenSSH public key, checked the way ``ssh-keygen -l`` would read it.

A key is one line ``TYPE BASE64 [COMMENT]`` as in a ``.pub`` file. Its base64 blob must decode
and begin with its own type (an SSH wire string), so a line cut short or pasted with the wrong
type is refused here, not by Proxmox (``PVE::Tools::validate_ssh_public_keys`` runs
``ssh-keygen -l`` on it and dies "SSH public key validation error"). RSA keys under 2048 bits
and DSA keys are refused: OpenSSH itself no longer accepts them. A private key pasted by
mistake is named as such, without repeating it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from bot.parsing import USAGE, UsageError, _short, _tokenize

KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
             "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
             "sk-ecdsa-sha2-nistp256@openssh.com")
RSA_MIN_BITS = 2048
_MAX_LEN = 16384
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_COMMENT = re.compile(r"[\x20-\x7e]{0,200}")


@dataclass(frozen=True)
class PublicKey:
    kind: str  # "ssh-ed25519"
    blob: bytes
    comment: str = ""

    @property
    def line(self) -> str:
        """As it goes into authorized_keys (Proxmox's ssh-public-keys)."""
        data = base64.b64encode(self.blob).decode()
        return f"{self.kind} {data}" + (f" {self.comment}" if self.comment else "")

    @property
    def fingerprint(self) -> str:
        """As ``ssh-keygen -l`` shows it: SHA256:<base64 without padding>."""
        return "SHA256:" + base64.b64encode(hashlib.sha256(self.blob).digest()).decode() \
            .rstrip("=")

    def __str__(self) -> str:
        return f"{self.kind} {self.fingerprint}" + (f" {self.comment}" if self.comment else "")


def _strings(blob: bytes) -> list[bytes]:
    """The SSH wire strings (uint32 length + bytes) of a key blob; ValueError if cut short."""
    out, i = [], 0
    while i < len(blob):
        if i + 4 > len(blob):
            raise ValueError("truncated")
        n = int.from_bytes(blob[i:i + 4], "big")
        if i + 4 + n > len(blob):
            raise ValueError("truncated")
        out.append(blob[i + 4:i + 4 + n])
        i += 4 + n
    return out


def parse_public_key(text: str) -> PublicKey:
    usage = "one line of your key's .pub file, e.g. ssh-ed25519 AAAAC3Nza... you@laptop"
    raw = text.strip()
    if "PRIVATE KEY" in raw:
        raise UsageError("that is a PRIVATE key: never send it to anyone. Send the public "
                         "one, the line in the .pub file beside it", usage)
    if len(raw) > _MAX_LEN or "\n" in raw or "\r" in raw:
        raise UsageError("send one key, on one line", usage)
    kind, _, rest = raw.partition(" ")
    data, _, comment = rest.strip().partition(" ")
    comment = comment.strip()
    if kind == "ssh-dss":
        raise UsageError("DSA keys are no longer accepted by OpenSSH; make an ed25519 key "
                         "(ssh-keygen -t ed25519)", usage)
    if kind not in KEY_TYPES:
        raise UsageError(f"{_short(kind)} is not an SSH public key type (e.g. ssh-ed25519, "
                         "ssh-rsa, ecdsa-sha2-nistp256)", usage)
    if not data or not _BASE64.fullmatch(data):
        raise UsageError(f"the key data after {kind} is missing or not base64", usage)
    try:
        blob = base64.b64decode(data, validate=True)
        fields = _strings(blob)
    except (binascii.Error, ValueError):
        raise UsageError("the key data is cut short or damaged: copy the whole line again",
                         usage) from None
    if not fields or fields[0] != kind.encode():
        raise UsageError(f"the key data is not a {kind} key (it says "
                         f"{_short(fields[0].decode('ascii', 'replace')) if fields else 'nothing'})",
                         usage)
    if kind == "ssh-rsa":
        bits = int.from_bytes(fields[2], "big").bit_length() if len(fields) > 2 else 0
        if bits < RSA_MIN_BITS:
            raise UsageError(f"this RSA key has {bits} bits; at least {RSA_MIN_BITS} are needed "
                             "(better: ssh-keygen -t ed25519)", usage)
    if not _COMMENT.fullmatch(comment):
        raise UsageError("the key's comment must be printable text of at most 200 characters",
                         usage)
    return PublicKey(kind, blob, comment)


@dataclass(frozen=True)
class SshKeyArgs:
    key: PublicKey | None = None
    remove: bool = False

    @property
    def show(self) -> bool:
        return self.key is None and not self.remove


def parse_ssh_key(args: str) -> SshKeyArgs:
    usage = USAGE["ssh_key"]
    text = (args or "").strip()
    if not text:
        return SshKeyArgs()
    if _tokenize(text, usage) == ["--remove"]:
        return SshKeyArgs(remove=True)
    try:
        return SshKeyArgs(parse_public_key(text))
    except UsageError as error:
        raise UsageError(error.problem, usage) from None
