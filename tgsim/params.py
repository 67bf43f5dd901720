"""Request parameters as Telegram reads them, whatever the body encoding.

PTB posts form fields (or multipart when uploading) whose values are strings: plain strings as
they are, everything else JSON-encoded (``"123"``, ``"true"``, ``'{"inline_keyboard": ...}'``).
Other clients post a JSON body with native types. ``Params`` accepts both, the way the real
server does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tgsim.model import JSON, bad_request


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    data: bytes
    filename: str | None
    content_type: str | None


class Params:
    def __init__(self, values: dict[str, Any], uploads: dict[str, Upload] | None = None):
        self.values = values
        self.uploads = uploads or {}

    def loggable(self) -> JSON:
        """The parameters for the call log: uploads summarized, never their bytes."""
        logged = dict(self.values)
        for name, up in self.uploads.items():
            logged[name] = f"<upload {up.filename or name}: {len(up.data)} bytes>"
        return logged

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "") or name in self.uploads

    def str(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None:
            if required:
                raise bad_request(f"{name} is empty")
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def int(self, name: str, default: int | None = None, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f"{name} is empty")
            return default
        if isinstance(value, bool):
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)

    def json(self, name: str, what: str | None = None) -> Any:
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {what or name} JSON object") from None
