"""Replies rendered as the chats people use show them, and still safe: highlighted code with only Pygments'
classes, tables and code in boxes that scroll and can be reached with Tab, math as MathML."""

from chat.markdown import PYGMENTS_CLASSES, render_markdown
from tools import pygments_css


def test_code_is_highlighted_with_pygments_classes_only():
    html = render_markdown("```python\ndef f(x):\n    return x < 2\n```")

    assert '<span class="k">def</span>' in html
    assert '<pre class="highlight" tabindex="0" role="region" aria-label="Python code">' in html
    assert '<button class="copy-button" data-copy="code" type="button">Copy code</button>' in html
    assert "&lt;" in html and "x < 2" not in html


def test_nothing_from_the_model_can_add_markup_or_classes():
    html = render_markdown(
        '<span class="k" onclick="x()">hi</span> <button hx-post="/x">b</button> [a](javascript:alert(1))\n\n'
        "```unknown-language\n<script>alert(1)</script>\n```"
    )

    assert "<script" not in html and '<span class="k" onclick' not in html and "<button hx-post" not in html
    assert 'href="javascript' not in html
    assert "&lt;script&gt;" in html and "&lt;button hx-post" in html  # shown as text, as typed


def test_tables_scroll_in_a_named_box_and_math_is_mathml():
    html = render_markdown(
        "| a | b |\n|---|---|\n| 1 | 2 |\n\nEnergy $E=mc^2$, prices $5 and $6, bad $\\frac{$"
    )

    assert '<div class="table-scroll" tabindex="0" role="region" aria-label="Table"><table>' in html
    assert '<math display="inline">' in html and "<mi>E</mi>" in html
    assert "$5 and $6" in html  # money is not math
    assert '<code class="math-source">\\frac{</code>' in html  # what latex2mathml cannot read stays code


def test_the_stylesheet_covers_the_classes_pygments_emits_and_is_current():
    css = (pygments_css.OUT).read_text()

    assert css == pygments_css.css(), "run .venv/bin/python tools/pygments_css.py"
    assert all(f".highlight .{name} " in css for name in ("k", "s", "c", "nf", "mi"))
    assert {"k", "s1", "nf"} <= PYGMENTS_CLASSES
