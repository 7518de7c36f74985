# Sphinx configuration of the course site (staged into build/site-src/ by build_site.py).
project = "semantic-gap"
author = "the semantic-gap authors"
copyright = "semantic-gap authors; Fashion-MNIST images by Zalando Research (MIT licence)"

extensions = ["nbsphinx"]
source_suffix = {".rst": "restructuredtext"}
master_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# The notebooks arrive executed; the site never runs them.
nbsphinx_execute = "never"
nbsphinx_allow_errors = False
# Everything the pages load is served from the site itself: no CDN for require.js, widgets or MathJax.
nbsphinx_requirejs_path = ""
nbsphinx_widgets_path = ""
mathjax_path = "tex-svg-full.js"
mathjax3_config = {"tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]}}

html_theme = "sphinx_book_theme"
html_title = "semantic-gap"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
}
html_static_path = ["_static"]
templates_path = ["_templates"]
# plotly.js is loaded once by every page (not inlined into each figure); figures wait for it.
html_js_files = ["plotly.min.js"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_copy_source = False
# Result snippets are fetched page by page, which browsers refuse for file:// pages: titles only.
html_show_search_summary = False
html_last_updated_fmt = None
