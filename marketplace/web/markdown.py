"""Bundle instructions: markdown written by a requester, shown to workers as HTML.

The one place the web product marks text safe: markdown-it renders with raw HTML disabled
(`js-default` preset: CommonMark plus tables and strikethrough, no HTML passthrough, unsafe
link schemes refused), and nh3 (the Ammonia sanitiser) then keeps only an allow-list of tags
and attributes, so neither a `<script>` nor a `javascript:` link nor an `onclick` survives."""

from __future__ import annotations

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
}
ALLOWED_SCHEMES = {"http", "https", "mailto"}
# Instructions are short; a pathological input must not cost a worker's page seconds.
MAX_CHARS = 50_000

_md = MarkdownIt("js-default")


def render_markdown(text: str | None) -> SafeString:
    """Markdown as sanitised HTML, safe to put in a template as it is."""
    return sanitise_html(_md.render((text or "")[:MAX_CHARS]))


def sanitise_html(html: str) -> SafeString:
    """Any HTML (instructions, an item's HTML snippet) reduced to the allow-list: no scripts,
    no event handlers, no styles beyond alignment, links only to http(s) and mail."""
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above
