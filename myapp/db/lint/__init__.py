"""Lint: what each revision will lock, and which rules it breaks, before it reaches production.

`statements` (a revision's offline SQL, parsed by pglast), `locks` (what a
statement locks and rewrites), `rules` (the built-in rules; plugins add
theirs through the ``lint_rules`` hook) and `linter` (rendering, rules,
accepted findings). ``python -m myapp.db lint`` is `myapp.db.commands.lint`.
"""
