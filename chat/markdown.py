"""Model output to safe HTML: Markdown without raw HTML, then an allowlist sanitizer.

htmx swaps whatever HTML reaches the page, so nothing from the model may carry scripts, event handlers
or hx-* attributes. nh3 keeps only the tags, attributes and classes listed here.

What a reply looks like, as in the chats people use: code highlighted on the server with Pygments (so the
page needs no JavaScript for it) in a box with its language and a Copy button (shown when JavaScript runs,
static/chat.js), tables that scroll inside their own box, `$…$` and `$$…$$` math as MathML (latex2mathml;
a formula it cannot read is shown as code). Every box that scrolls can be reached with Tab and has a name.
"""

from typing import Any

import nh3
from django.utils.html import escape
from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(nowrap=True)


def _math(latex: str, options: dict[str, Any]) -> str:
    display = "block" if options.get("display_mode") else "inline"
    try:
        return latex_to_mathml(latex, display=display)
    except Exception:  # latex2mathml raises many kinds of error on input it cannot read
        return f'<code class="math-source">{escape(latex)}</code>'


def _code_block(code: str, language: str) -> str:
    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    body = highlight(code, lexer, _FORMATTER) if lexer is not None else str(escape(code))
    name = lexer.name if lexer is not None else "Code"
    label = f"{name} code" if lexer is not None else "Code"
    return (
        '<div class="code-block">'
        f'<div class="code-block__bar"><span class="code-block__language">{escape(name)}</span>'
        '<button type="button" class="copy-button" data-copy="code">Copy code</button></div>'
        f'<pre class="highlight" tabindex="0" role="region" aria-label="{escape(label)}"><code>{body}</code></pre>'
        "</div>\n"
    )


def _fence(self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    language = token.info.strip().split(maxsplit=1)[0] if token.info.strip() else ""
    return _code_block(token.content, language)


def _table_open(self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    return '<div class="table-scroll" tabindex="0" role="region" aria-label="Table">' + self.renderToken(
        tokens, idx, options, env
    )


def _table_close(
    self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return self.renderToken(tokens, idx, options, env) + "</div>\n"


def _math_in_a_line(
    self: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """`$$…$$` inside a paragraph: shown as a display formula, in a span (a div cannot sit in a <p>)."""
    return f'<span class="math block">{_math(tokens[idx].content, {"display_mode": True})}</span>'


_md = (
    MarkdownIt("js-default", {"html": False, "linkify": False, "typographer": False})
    .enable("table")
    .use(dollarmath_plugin, allow_space=False, allow_digits=False, double_inline=True, renderer=_math)
)
_md.add_render_rule("fence", _fence)
_md.add_render_rule("code_block", _fence)
_md.add_render_rule("math_inline_double", _math_in_a_line)
_md.add_render_rule("table_open", _table_open)
_md.add_render_rule("table_close", _table_close)

# The classes Pygments puts on its spans (short names), and none other.
PYGMENTS_CLASSES = {name for name in STANDARD_TYPES.values() if name}
_MATHML = {
    "math", "mrow", "mi", "mo", "mn", "ms", "mtext", "mspace", "msup", "msub", "msubsup", "mfrac", "msqrt",
    "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom",
    "menclose", "semantics", "annotation",
}  # fmt: skip
_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "a",
    "table", "thead", "tbody", "tr", "th", "td", "div", "span", "button",
} | _MATHML  # fmt: skip
_SCROLLS = {"tabindex", "role", "aria-label"}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
    "pre": _SCROLLS,
    "div": _SCROLLS,
    "button": {"data-copy"},
    "math": {"display"},
    "mo": {"stretchy", "fence", "separator", "lspace", "rspace", "largeop", "movablelimits", "accent"},
    "mi": {"mathvariant"},
    "mspace": {"width"},
    "mstyle": {"displaystyle", "scriptlevel"},
    "mover": {"accent"},
    "munder": {"accentunder"},
    "mtable": {"columnalign"},
    "menclose": {"notation"},
}
_CLASSES = {
    "span": PYGMENTS_CLASSES | {"code-block__language", "math", "inline", "block"},
    "div": {"code-block", "code-block__bar", "table-scroll", "math", "block"},
    "pre": {"highlight"},
    "code": {"math-source"},
    "button": {"copy-button"},
}


def render_markdown(text: str) -> str:
    html = _md.render(text)
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        allowed_classes=_CLASSES,
        set_tag_attribute_values={"button": {"type": "button"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
