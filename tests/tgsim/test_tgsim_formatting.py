"""parse_mode handling, table-tested: plain text and entities as Telegram computes them."""

from __future__ import annotations

import pytest

from tgsim.formatting import parse
from tgsim.model import ApiError

OK = [
    ("plain", None, "plain", []),
    ("<b>a</b> <i>b</i>", "HTML", "a b",
     [{"type": "bold", "offset": 0, "length": 1}, {"type": "italic", "offset": 2, "length": 1}]),
    ('<a href="https://p.ve">PVE</a>', "html", "PVE",
     [{"type": "text_link", "offset": 0, "length": 3, "url": "https://p.ve"}]),
    ("😀 <code>x</code>", "HTML", "😀 x", [{"type": "code", "offset": 3, "length": 1}]),  # UTF-16
    ("a &amp; b &#33; &foo", "HTML", "a & b ! &foo", []),
    (r"*b* _i_ __u__ ~s~ ||sp|| `c\`` 1\.0", "MarkdownV2", "b i u s sp c` 1.0",
     [{"type": "bold", "offset": 0, "length": 1}, {"type": "italic", "offset": 2, "length": 1},
      {"type": "underline", "offset": 4, "length": 1},
      {"type": "strikethrough", "offset": 6, "length": 1},
      {"type": "spoiler", "offset": 8, "length": 2}, {"type": "code", "offset": 11, "length": 2}]),
    ("```python\nprint(1)\n```", "MarkdownV2", "print(1)\n",
     [{"type": "pre", "offset": 0, "length": 9}]),
    ("*bold* 1.5 (ok)", "Markdown", "bold 1.5 (ok)", [{"type": "bold", "offset": 0, "length": 4}]),
]

ERRORS = [
    ("<foo>x</foo>", "HTML", 'Unsupported start tag "foo" at byte offset 0'),
    ("<b>x</i>", "HTML", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
    ("a <b", "HTML", "Unclosed start tag at byte offset 2"),
    ("done!", "MarkdownV2", "Character '!' is reserved"),
    ("*open", "MarkdownV2", "Can't find end of Bold entity at byte offset 0"),
    ("_open", "Markdown", "Can't find end of the entity starting at byte offset 0"),
    ("x", "Textile", "unsupported parse_mode"),
]


@pytest.mark.parametrize(("source", "mode", "plain", "entities"), OK)
def test_markup_becomes_text_and_entities(source, mode, plain, entities):
    assert parse(source, mode) == (plain, entities)


@pytest.mark.parametrize(("source", "mode", "reason"), ERRORS)
def test_bad_markup_is_refused_like_telegram(source, mode, reason):
    with pytest.raises(ApiError) as caught:
        parse(source, mode)
    assert caught.value.status == 400
    assert caught.value.description.startswith("Bad Request: ")
    assert reason in caught.value.description
