"""Telegram's HTML parse mode: the allowed tags, the four named entities, numeric entities."""

from __future__ import annotations

from dataclasses import dataclass, field

from omnibot_sandbox.telegram_text import SPACES, EntityError, Rendered, TextBuilder, byte_offset

# Tag → entity type. The Bot API documents these; anything else is "Unsupported start tag".
_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "span": "spoiler", "tg-spoiler": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ESCAPES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


@dataclass
class _Open:
    tag: str
    attrs: dict[str, str]
    offset: int
    part_index: int
    language: str | None = field(default=None)


def parse(source: str, strict: bool = True) -> Rendered:
    return _HtmlParser(source, strict).run()


def decode_entity(source: str, at: int) -> tuple[str, int] | None:
    """The character of the entity starting at ``source[at] == "&"`` and the index after it."""
    i = at + 1
    if source[i:i + 1] == "#":
        i += 1
        base, digits = 10, "0123456789"
        if source[i:i + 1] in ("x", "X"):
            base, digits, i = 16, "0123456789abcdefABCDEF", i + 1
        start = i
        while i < len(source) and source[i] in digits and i - start < 8:
            i += 1
        if i == start or source[i:i + 1] != ";":
            return None
        code = int(source[start:i], base)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        return chr(code), i + 1
    start = i
    while i < len(source) and source[i].isascii() and source[i].isalpha():
        i += 1
    name = source[start:i]
    if name in _NAMED and source[i:i + 1] == ";":
        return _NAMED[name], i + 1
    return None


class _HtmlParser:
    def __init__(self, source: str, strict: bool) -> None:
        self.s = source
        self.strict = strict
        self.out = TextBuilder()
        self.stack: list[_Open] = []

    def ch(self, i: int) -> str:
        return self.s[i] if i < len(self.s) else "\0"

    def fail(self, message: str, index: int, detail: str = "") -> EntityError:
        return EntityError(f"{message} at byte offset {byte_offset(self.s, index)}{detail}")

    def run(self) -> Rendered:
        i = 0
        while i < len(self.s):
            char = self.s[i]
            if char == "&":
                decoded = decode_entity(self.s, i)
                if decoded is not None:
                    self.out.add(decoded[0])
                    i = decoded[1]
                    continue
            if char in "&>" and self.strict:
                raise self.fail(f'Character "{char}" must be escaped as "{_ESCAPES[char]}"', i)
            if char != "<":
                self.out.add(char)
                i += 1
                continue
            i = self.close_tag(i) if self.ch(i + 1) == "/" else self.open_tag(i)
        if self.stack:
            raise EntityError(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"')
        return self.out.rendered()

    def open_tag(self, begin: int) -> int:
        i = begin + 1
        while self.ch(i) not in SPACES and self.ch(i) != ">":
            i += 1
        if self.ch(i) == "\0":
            raise self.fail("Unclosed start tag", begin)
        tag = self.s[begin + 1:i].lower()
        if tag not in _TAGS:
            raise self.fail(f'Unsupported start tag "{tag}"', begin)
        attrs: dict[str, str] = {}
        while self.ch(i) != ">":
            i = self.attribute(tag, begin, i, attrs)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise self.fail('Tag "span" must have class "tg-spoiler"', begin)
        self.stack.append(_Open(tag, attrs, self.out.offset, len(self.out.parts)))
        return i + 1

    def attribute(self, tag: str, begin: int, i: int, attrs: dict[str, str]) -> int:
        """Read one ``name=value`` (or trailing spaces) of a start tag; the index after it."""
        while self.ch(i) != "\0" and self.ch(i) in SPACES:
            i += 1
        if self.ch(i) == ">":
            return i
        name_start = i
        while self.ch(i) not in SPACES and self.ch(i) not in "=>":
            i += 1
        name = self.s[name_start:i]
        if not name:
            raise self.fail(f'Empty attribute name in the tag "{tag}"', begin)
        while self.ch(i) != "\0" and self.ch(i) in SPACES:
            i += 1
        if tag == "blockquote" and name == "expandable" and self.ch(i) != "=":
            attrs[name] = ""  # the one attribute Telegram accepts without a value
            return i
        if self.ch(i) != "=":
            raise self.fail(f'Expected equal sign in declaration of an attribute of the tag "{tag}"', begin)
        i += 1
        while self.ch(i) != "\0" and self.ch(i) in SPACES:
            i += 1
        if self.ch(i) == "\0":
            raise self.fail(f'Unclosed start tag "{tag}"', begin)
        if self.ch(i) not in "'\"":
            token_start = i
            while self.ch(i).isascii() and (self.ch(i).isalnum() or self.ch(i) in ".-"):
                i += 1
            value = self.s[token_start:i].lower()
            if self.ch(i) not in SPACES and self.ch(i) != ">":
                raise self.fail("Unexpected end of name token", token_start)
        else:
            quote, chars = self.ch(i), []
            i += 1
            while self.ch(i) not in (quote, "\0"):
                decoded = decode_entity(self.s, i) if self.ch(i) == "&" else None
                if decoded is not None:
                    chars.append(decoded[0])
                    i = decoded[1]
                    continue
                chars.append(self.ch(i))
                i += 1
            if self.ch(i) == quote:
                i += 1
            value = "".join(chars)
        if self.ch(i) == "\0":
            raise self.fail("Unclosed start tag", begin)
        attrs[name] = value
        return i

    def close_tag(self, begin: int) -> int:
        if not self.stack:
            raise self.fail("Unexpected end tag", begin)
        i = begin + 2
        while self.ch(i) not in SPACES and self.ch(i) != ">":
            i += 1
        name = self.s[begin + 2:i].lower()
        while self.ch(i) != "\0" and self.ch(i) in SPACES:
            i += 1
        if self.ch(i) != ">":
            raise self.fail("Unclosed end tag", begin)
        opened = self.stack.pop()
        if name and name != opened.tag:
            raise self.fail("Unmatched end tag", begin, f', expected "</{opened.tag}>", found "</{name}>"')
        self.entity(opened)
        return i + 1

    def entity(self, opened: _Open) -> None:
        kind = _TAGS[opened.tag]
        css = opened.attrs.get("class", "")
        if kind == "code" and self.stack and self.stack[-1].tag == "pre" and css.startswith("language-"):
            # <pre><code class="language-x"> is one pre entity with a language, as in Telegram.
            self.stack[-1].language = css.removeprefix("language-")
            return
        if kind == "text_link":
            url = opened.attrs.get("href") or self.out.text_since(opened.part_index)
            self.out.entity(kind, opened.offset, url=url)
        elif kind == "pre" and opened.language:
            self.out.entity(kind, opened.offset, language=opened.language)
        elif kind == "blockquote" and "expandable" in opened.attrs:
            self.out.entity("expandable_blockquote", opened.offset)
        elif kind == "custom_emoji":
            self.out.entity(kind, opened.offset, custom_emoji_id=opened.attrs.get("emoji-id", ""))
        else:
            self.out.entity(kind, opened.offset)
