"""Table layouts for each command, by workflow (like cli/): library results -> render.View.

No rich here: a view says what to draw; :mod:`xstatecalc.render` draws it.
"""
