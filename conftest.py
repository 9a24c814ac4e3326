"""Hands the documentation pages to Sybil: each block of `docs/*.md` and
`README.md` that shows its output is run and compared (see
`tests/markdown_pages.py`)."""

from sybil import Sybil

from tests.markdown_pages import PageParser, setup_page, teardown_page

pytest_collect_file = Sybil(
    parsers=[PageParser()],
    patterns=["docs/*.md", "README.md"],
    setup=setup_page,
    teardown=teardown_page,
).pytest()
