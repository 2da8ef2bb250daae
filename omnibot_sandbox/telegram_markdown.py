"""Telegram's MarkdownV2 and legacy Markdown parse modes, after TDLib's parsers."""

from __future__ import annotations

from dataclasses import dataclass

from omnibot_sandbox.telegram_text import SPACES, EntityError, Rendered, TextBuilder, byte_offset

_RESERVED_V2 = "_*[]()~`>#+-=|{}.!"
# How TDLib names entity types in "Can't find end of ... entity".
_TDLIB_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
    "spoiler": "Spoiler", "text_link": "TextUrl", "code": "Code", "pre": "Pre",
    "custom_emoji": "CustomEmoji",
}


@dataclass
class _Open:
    kind: str
    offset: int
    begin: int
    part_index: int
    language: str | None = None


class _Text:
    """The source text with TDLib's convention that reading past the end gives "\\0"."""

    def __init__(self, source: str) -> None:
        self.s = source

    def ch(self, i: int) -> str:
        return self.s[i] if 0 <= i < len(self.s) else "\0"

    def pre_start(self, i: int) -> tuple[int, str | None]:
        """After an opening ```: an optional language up to the line end, then one newline."""
        end = i
        while self.ch(end) not in SPACES and self.ch(end) != "`":
            end += 1
        language = None
        if end != i and end < len(self.s) and self.ch(end) != "`":
            language, i = self.s[i:end], end
        if self.ch(i) in "\r\n":
            pair = self.ch(i + 1) in "\r\n" and self.ch(i) != self.ch(i + 1)
            i += 2 if pair else 1
        return i, language

    def escaped(self, i: int) -> bool:
        return self.ch(i) == "\\" and 0 < ord(self.ch(i + 1)) <= 126


def parse_v2(source: str) -> Rendered:
    text, out = _Text(source), TextBuilder()
    stack: list[_Open] = []
    quote_start: int | None = None
    quote_end = 0
    line_start = True
    i = 0
    while i < len(source):
        c = source[i]
        if line_start:
            line_start = False
            if c == ">" and not stack:
                quote_start = out.offset if quote_start is None else quote_start
                i += 1
                continue
            if quote_start is not None:
                out.span("blockquote", quote_start, quote_end)
                quote_start = None
        if text.escaped(i):
            out.add(source[i + 1])
            i += 2
            continue
        reserved = "`" if stack and stack[-1].kind in ("code", "pre") else _RESERVED_V2
        if c not in reserved:
            if c == "\n":
                quote_end, line_start = out.offset, True
            out.add(c)
            i += 1
            continue
        if stack and _closes(stack[-1].kind, text, i):
            i = _close_v2(text, out, stack.pop(), i) + 1
            continue
        opened, i = _open_v2(text, out, i)
        stack.append(opened)
        i += 1
    if stack:
        last = stack[-1]
        raise EntityError(f"Can't find end of {_TDLIB_NAMES[last.kind]} entity at byte offset "
                          f"{byte_offset(source, last.begin)}")
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    return out.rendered()


def _closes(kind: str, text: _Text, i: int) -> bool:
    c, following = text.ch(i), text.ch(i + 1)
    return {
        "bold": c == "*", "italic": c == "_" and following != "_", "code": c == "`",
        "pre": c == "`" and following == "`" and text.ch(i + 2) == "`",
        "text_link": c == "]", "underline": c == "_" and following == "_",
        "strikethrough": c == "~", "spoiler": c == "|" and following == "|",
        "custom_emoji": c == "]",
    }[kind]


def _open_v2(text: _Text, out: TextBuilder, i: int) -> tuple[_Open, int]:
    c, begin, language = text.ch(i), i, None
    if c == "_" and text.ch(i + 1) == "_":
        kind, i = "underline", i + 1
    elif c in "_*~[":
        kind = {"_": "italic", "*": "bold", "~": "strikethrough", "[": "text_link"}[c]
    elif c == "|" and text.ch(i + 1) == "|":
        kind, i = "spoiler", i + 1
    elif c == "`" and text.ch(i + 1) == "`" and text.ch(i + 2) == "`":
        kind = "pre"
        i, language = text.pre_start(i + 3)
        i -= 1
    elif c == "`":
        kind = "code"
    elif c == "!" and text.ch(i + 1) == "[":
        kind, i = "custom_emoji", i + 1
    else:
        raise EntityError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
    return _Open(kind, out.offset, begin, len(out.parts), language), i


def _close_v2(text: _Text, out: TextBuilder, opened: _Open, i: int) -> int:
    """Emit the entity that ends at ``i``; the index of the entity's last source character."""
    kind = opened.kind
    if kind in ("underline", "spoiler"):
        i += 1
    elif kind == "pre":
        i += 2
    extra: dict[str, str] = {}
    if kind in ("text_link", "custom_emoji"):
        if text.ch(i + 1) != "(":
            if kind == "custom_emoji":
                raise EntityError("Custom emoji entity must contain a tg://emoji URL")
            url = out.text_since(opened.part_index)
        else:
            url, i = _read_url(text, i + 2)
        if kind == "text_link":
            extra["url"] = url
        else:
            extra["custom_emoji_id"] = url.partition("id=")[2]
    if kind == "pre" and opened.language:
        extra["language"] = opened.language
    out.entity(kind, opened.offset, **extra)
    return i


def _read_url(text: _Text, i: int) -> tuple[str, int]:
    begin, url = i, []
    while i < len(text.s) and text.ch(i) != ")":
        if text.escaped(i):
            url.append(text.ch(i + 1))
            i += 2
            continue
        url.append(text.ch(i))
        i += 1
    if text.ch(i) != ")":
        raise EntityError(f"Can't find end of a URL at byte offset {byte_offset(text.s, begin)}")
    return "".join(url), i


def parse_legacy(source: str) -> Rendered:
    """The old Markdown mode: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    text, out = _Text(source), TextBuilder()
    i = 0
    while i < len(source):
        c = source[i]
        if c == "\\" and text.ch(i + 1) in "_*`[":
            out.add(source[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            out.add(c)
            i += 1
            continue
        begin, end_char, is_pre, language = i, "]" if c == "[" else c, False, None
        i += 1
        if c == "`" and text.ch(i) == "`" and text.ch(i + 1) == "`":
            is_pre = True
            i, language = text.pre_start(i + 2)
        start = out.offset
        while i < len(source) and (source[i] != end_char
                                   or (is_pre and not (text.ch(i + 1) == "`" and text.ch(i + 2) == "`"))):
            out.add(source[i])
            i += 1
        if i >= len(source):
            raise EntityError(f"Can't find end of the entity starting at byte offset "
                              f"{byte_offset(source, begin)}")
        if c == "[":
            url = ""
            if text.ch(i + 1) == "(":
                i += 2
                url_start = i
                while i < len(source) and source[i] != ")":
                    i += 1
                url = source[url_start:i]
            if url:
                out.entity("text_link", start, url=url)
        elif is_pre:
            out.entity("pre", start, **({"language": language} if language else {}))
            i += 2
        else:
            out.entity({"_": "italic", "*": "bold", "`": "code"}[c], start)
        i += 1
    return out.rendered()
