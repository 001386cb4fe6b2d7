"""theme/hooks/mathml.py: TeX becomes MathML at build time, on Markdown pages and in notebook cells."""

import importlib.util
from pathlib import Path

import pytest
from mkdocs.exceptions import PluginError

HOOK = Path(__file__).resolve().parents[2] / "theme" / "hooks" / "mathml.py"
spec = importlib.util.spec_from_file_location("mathml_hook", HOOK)
mathml = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mathml)


def test_arithmatex_spans_and_divs_become_inline_and_block_math():
    page = (
        '<p>Scale by <span class="arithmatex">\\(\\sqrt{d_k}\\)</span>.</p>'
        '<div class="arithmatex">\\[a &lt; b\\]</div>'
    )
    out = mathml.typeset(page, "page.md")
    assert "arithmatex" not in out
    assert (
        '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline"><mrow><msqrt>'
        in out
    )
    assert 'display="block"' in out
    # the escaped "<" was read as a less-than sign, not as markup
    assert "<mo>&#x0003C;</mo>" in out


def test_dollar_math_is_typeset_inside_notebook_markdown_cells_only():
    page = (
        '<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown" data-mime-type="text/markdown">'
        "<p>Costs \\$5: $x_1$ and $$\\frac{1}{2}$$</p></div>"
        '<div class="jp-OutputArea-output"><pre>price: $3 and $4</pre></div>'
    )
    out = mathml.typeset(page, "nb.py")
    assert "Costs \\$5:" in out
    assert out.count("<math") == 2 and "<mfrac>" in out
    assert "<pre>price: $3 and $4</pre>" in out


def test_math_after_a_nested_div_in_a_notebook_markdown_cell_is_typeset():
    page = (
        '<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown"><p>$a$</p>'
        '<div class="admonition note"><p>inside $c$</p></div><p>after it, $b$</p></div>'
        '<div class="jp-OutputArea-output"><pre>$5 and $6</pre></div>'
    )
    out = mathml.typeset(page, "nb.py")
    assert out.count("<math") == 3 and "$" not in out.replace(
        "<pre>$5 and $6</pre>", ""
    )
    assert "<pre>$5 and $6</pre>" in out


def test_the_empty_mathjax_loader_of_notebook_pages_is_removed():
    page = (
        '<!-- Load mathjax -->\n<script src=""> </script>\n<script type="text/x-mathjax-config">init();</script>\n'
        '<!-- End of mathjax configuration --><div class="jp-RenderedMarkdown"><p>$x$</p></div>'
    )
    out = mathml.typeset(page, "nb.py")
    assert "<script" not in out and "<math" in out


@pytest.mark.parametrize(
    ("tex", "reason"),
    [
        ("x^", "MissingSuperScriptOrSubscriptError"),
        ("\\softmaks(x)", "unknown command"),
    ],
)
def test_unreadable_tex_fails_the_build_naming_the_page_and_formula(tex, reason):
    with pytest.raises(PluginError, match=f"attention.md: cannot typeset .*{reason}"):
        mathml.typeset(f'<span class="arithmatex">\\({tex}\\)</span>', "attention.md")


def test_two_formulas_of_each_kind_on_one_page_are_typeset_one_by_one():
    """Each formula ends at its own closing delimiter: a pattern that reached the last one instead would swallow
    the text between two formulas of the same kind."""
    page = (
        '<p><span class="arithmatex">\\(a\\)</span> between inline '
        '<span class="arithmatex">\\(b\\)</span></p>'
        '<div class="arithmatex">\\[c\\]</div><p>between display</p>'
        '<div class="arithmatex">\\[d\\]</div>'
        '<div class="jp-RenderedMarkdown"><p>$e$ between dollars $f$; '
        "$$g$$ between double dollars $$h$$</p></div>"
    )
    out = mathml.typeset(page, "page.md")
    assert out.count("<math") == 8
    for text in (
        "between inline",
        "between display",
        "between dollars",
        "between double dollars",
    ):
        assert text in out
    for letter in "abcdefgh":
        assert out.count(f"<mi>{letter}</mi>") == 1, letter
