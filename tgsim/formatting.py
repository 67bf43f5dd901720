"""parse_mode handling: turn HTML / MarkdownV2 / Markdown into plain text and entities.

Telegram refuses a message whose markup does not parse ("can't parse entities: ...") and shows
the text without the markup. A stand-in that accepted anything would let a bot ship a message
that real Telegram rejects (an unescaped "." in MarkdownV2, a stray "<" in HTML), so we parse
the common subset strictly and answer with Telegram's error texts. Offsets are in UTF-16 code
units, as in the Bot API.
"""

from __future__ import annotations

import re

from tgsim.model import JSON, ApiError, bad_request

_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "code": "code", "pre": "pre", "a": "text_link", "tg-spoiler": "spoiler", "span": "spoiler",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}
_HTML_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HREF = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)

_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MD_NAMES = {"bold": "Bold", "italic": "Italic", "underline": "Underline",
             "strikethrough": "Strikethrough", "spoiler": "Spoiler", "code": "Code",
             "pre": "Pre", "text_link": "TextUrl"}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse(text: str, parse_mode: str | None) -> tuple[str, list[JSON]]:
    """(plain text, entities) for ``text`` sent with ``parse_mode``; raises ApiError 400."""
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return _Builder(text).html()
    if mode == "markdownv2":
        return _Builder(text).markdown(v2=True)
    if mode == "markdown":
        return _Builder(text).markdown(v2=False)
    raise bad_request(f"unsupported parse_mode {parse_mode!r}")


def _cant_parse(reason: str) -> ApiError:
    return bad_request(f"can't parse entities: {reason}")


class _Builder:
    """Walks the source once, writing plain text and closing entities as their ends appear."""

    def __init__(self, source: str):
        self.src = source
        self.out: list[str] = []
        self.pos16 = 0  # UTF-16 length of the plain text so far
        self.entities: list[JSON] = []

    def byte_offset(self, index: int) -> int:
        return len(self.src[:index].encode("utf-8"))

    def emit(self, chars: str) -> None:
        self.out.append(chars)
        self.pos16 += utf16_len(chars)

    def close(self, kind: str, start16: int, **extra: str) -> None:
        length = self.pos16 - start16
        if length > 0:
            self.entities.append({"type": kind, "offset": start16, "length": length, **extra})

    def result(self) -> tuple[str, list[JSON]]:
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    # --- HTML -----------------------------------------------------------------------------
    def html(self) -> tuple[str, list[JSON]]:
        src, i = self.src, 0
        stack: list[tuple[str, str, int, dict[str, str]]] = []  # tag, kind, start, extra
        while i < len(src):
            ch = src[i]
            if ch == "&":
                m = _HTML_ENTITY.match(src, i)
                if m:
                    name = m.group(1)
                    if name.startswith("#x"):
                        self.emit(chr(int(name[2:], 16)))
                    elif name.startswith("#"):
                        self.emit(chr(int(name[1:])))
                    else:
                        self.emit(_HTML_NAMED[name])
                    i = m.end()
                    continue
                self.emit(ch)
                i += 1
                continue
            if ch != "<":
                self.emit(ch)
                i += 1
                continue
            end = src.find(">", i)
            if end < 0:
                raise _cant_parse(f"Unclosed start tag at byte offset {self.byte_offset(i)}")
            inner = src[i + 1:end].strip()
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack or stack[-1][0] != name:
                    expected = f'"</{stack[-1][0]}>"' if stack else "no end tag"
                    raise _cant_parse(
                        f"Unmatched end tag at byte offset {self.byte_offset(i)}, "
                        f'expected {expected}, found "</{name}>"')
                tag, kind, start, extra = stack.pop()
                if not (kind == "code" and stack and stack[-1][1] == "pre"):
                    self.close(kind, start, **extra)
            else:
                name = inner.split(None, 1)[0].lower() if inner else ""
                kind = _HTML_TAGS.get(name)
                if kind is None or (name == "span" and "tg-spoiler" not in inner):
                    raise _cant_parse(
                        f'Unsupported start tag "{name}" at byte offset {self.byte_offset(i)}')
                extra: dict[str, str] = {}
                if name == "a":
                    href = _HREF.search(inner)
                    if href is None:
                        raise _cant_parse(f"Can't find href of a link at byte offset "
                                          f"{self.byte_offset(i)}")
                    extra["url"] = next(g for g in href.groups() if g is not None)
                stack.append((name, kind, self.pos16, extra))
            i = end + 1
        if stack:
            raise _cant_parse(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
        return self.result()

    # --- Markdown and MarkdownV2 -------------------------------------------------------------
    def markdown(self, *, v2: bool) -> tuple[str, list[JSON]]:
        src, i = self.src, 0
        stack: list[tuple[str, str, int, int]] = []  # marker, kind, start16, byte offset
        markers = (["```", "`", "||", "__", "*", "_", "~", "["] if v2
                   else ["```", "`", "*", "_", "["])

        def in_code() -> bool:
            return bool(stack) and stack[-1][1] in ("code", "pre")

        while i < len(src):
            ch = src[i]
            if ch == "\\" and i + 1 < len(src) and (v2 or src[i + 1] in "_*`["):
                self.emit(src[i + 1])
                i += 2
                continue
            if in_code():
                marker = stack[-1][0]
                if src.startswith(marker, i):
                    _, kind, start, _ = stack.pop()
                    self.close(kind, start)
                    i += len(marker)
                else:
                    self.emit(ch)
                    i += 1
                continue
            if v2 and ch == "]" and stack and stack[-1][0] == "[":
                i = self._close_link(stack, i + 1)
                continue
            if v2 and ch == ">" and (i == 0 or src[i - 1] == "\n"):
                i += 1  # a blockquote line: the marker is not shown
                continue
            marker = next((m for m in markers if src.startswith(m, i)), None)
            if marker is None and not v2 and ch == "]" and stack and stack[-1][0] == "[":
                i = self._close_link(stack, i + 1)
                continue
            if marker is None:
                if v2 and ch in _MDV2_RESERVED:
                    raise _cant_parse(f"Character '{ch}' is reserved and must be escaped "
                                      "with the preceding '\\'")
                self.emit(ch)
                i += 1
                continue
            if stack and stack[-1][0] == marker and marker != "[":
                _, kind, start, _ = stack.pop()
                self.close(kind, start)
                i += len(marker)
                continue
            kind = {"```": "pre", "`": "code", "||": "spoiler", "__": "underline", "*": "bold",
                    "_": "italic", "~": "strikethrough", "[": "text_link"}[marker]
            stack.append((marker, kind, self.pos16, self.byte_offset(i)))
            i += len(marker)
            if marker == "```":  # an optional language name up to the end of the line
                newline = src.find("\n", i)
                if newline >= 0 and re.fullmatch(r"[\w+-]*", src[i:newline]):
                    i = newline + 1
        if stack:
            _, kind, _, offset = stack[-1]
            if v2:
                raise _cant_parse(f"Can't find end of {_MD_NAMES[kind]} entity at byte "
                                  f"offset {offset}")
            raise _cant_parse(f"Can't find end of the entity starting at byte offset {offset}")
        return self.result()

    def _close_link(self, stack: list[tuple[str, str, int, int]], i: int) -> int:
        """After "[text]": read "(url)" and close the text_link; returns the next index."""
        src = self.src
        _, kind, start, offset = stack.pop()
        if not src.startswith("(", i):
            raise _cant_parse(f"Can't find end of {_MD_NAMES[kind]} entity at byte offset "
                              f"{offset}")
        url: list[str] = []
        j = i + 1
        while j < len(src) and src[j] != ")":
            if src[j] == "\\" and j + 1 < len(src):
                j += 1
            url.append(src[j])
            j += 1
        if j >= len(src):
            raise _cant_parse(f"Can't find end of a URL at byte offset {self.byte_offset(i)}")
        self.close(kind, start, url="".join(url))
        return j + 1
