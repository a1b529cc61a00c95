"""Untrusted text (model answers, prompts and their ids, notes, corpus rows) as HTML that loads nothing.

Markdown is rendered on the server by markdown-it-py (CommonMark, raw HTML off: a ``<img>`` in the text
stays text), image syntax becomes a plain mention of the address, and the result goes through an
allowlist sanitizer (nh3, the Rust ammonia crate) that keeps only text formatting and links: no
``img``, ``picture``, ``svg``, ``iframe``, ``object``, ``link``, ``meta``, ``style``, no ``style`` or
``srcset`` attribute, no URL scheme but http, https and mailto. The browser then has nothing to
fetch, whatever the markdown parser made of an odd construct. The app's Content-Security-Policy
(:mod:`.app`) is the second wall: it forbids remote images, frames and scripts anyway.
"""

from __future__ import annotations

import html
import re

from macro2micro.dataset_builder.utils import require

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "pre",
    "code",
    "em",
    "strong",
    "del",
    "s",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
    "span",
    "div",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}, "th": {"style"}, "td": {"style"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
EMPTY = "(the model generated nothing: an empty answer)"
_MD_PUNCT = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")

_md = None


def _renderer():
    global _md
    if _md is None:
        markdown_it = require("markdown_it")

        md = markdown_it.MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])

        def image(self, tokens, idx, options, env):
            token = tokens[idx]
            alt = self.renderInlineAsText(token.children or [], options, env) or "untitled"
            return html.escape(f"[image: {alt} — {token.attrGet('src') or 'no address'}]")

        md.add_render_rule("image", image)
        _md = md
    return _md


def _inert(fragment: str) -> str:
    """Characters gr.HTML's template step (a JS template string, then Handlebars) would act on, as entities:
    ``${...}`` and ``{{...}}`` in an answer stay text."""
    return fragment.translate({ord(c): f"&#{ord(c)};" for c in "$`{}\\"})


def clean(fragment: str) -> str:
    """An HTML fragment through the allowlist (anything else is dropped; its text is kept)."""
    nh3 = require("nh3")

    return _inert(
        nh3.clean(
            fragment,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=URL_SCHEMES,
            link_rel="noopener noreferrer nofollow",
            strip_comments=True,
            filter_style_properties={"text-align"},
        )
    )


def markdown_html(text: str | None, empty: str = EMPTY) -> str:
    """Untrusted markdown as safe HTML; whitespace only (or nothing) says so in words."""
    if not (text or "").strip():
        return f"<p><em>{text_html(empty)}</em></p>"
    return clean(_renderer().render(text))


def text_html(text: str | None) -> str:
    """Untrusted plain text (a prompt id, a name) as escaped HTML: no markup survives."""
    return _inert(html.escape(str(text or "")))


def markdown_text(text: str | None) -> str:
    """Untrusted plain text to put inside markdown: HTML escaped and every markdown punctuation mark made literal."""
    return _MD_PUNCT.sub(r"\\\1", html.escape(str(text or "")))
