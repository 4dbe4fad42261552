"""PDF documents (quotes, invoices) rendered with WeasyPrint from plain data.

Templates live in ``invoices/templates/``. The Jinja environment autoescapes and fails on
undefined names, so a missing mention is an error, never a blank; WeasyPrint may load
files from that folder only (stylesheet, logo), nothing from the network.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from purchasing.config import PROJECT_ROOT
from purchasing.formats import FILTERS

if TYPE_CHECKING:
    import weasyprint

TEMPLATES_DIR = PROJECT_ROOT / "invoices" / "templates"


class ResourceRefused(ValueError):
    pass


def template_environment(**options: Any) -> Environment:
    """A Jinja environment of the templates folder, as every document of it is written:
    autoescaped, failing on undefined names, block tags on their own lines leaving none.
    ``options`` adds to those (the Factur-X XML keeps its final newline)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        **options,
    )


@cache
def _environment() -> Environment:
    env = template_environment()
    env.filters.update(FILTERS)
    return env


def _local_fetcher(url: str) -> dict[str, Any]:
    from weasyprint.urls import default_url_fetcher

    if not url.startswith("file://"):
        raise ResourceRefused(f"refused to fetch {url}")
    path = Path(url.removeprefix("file://")).resolve()
    if not path.is_relative_to(TEMPLATES_DIR.resolve()):
        raise ResourceRefused(f"refused to read {path.name} outside the templates folder")
    return default_url_fetcher(url)


def render_html(template: str, context: dict[str, Any]) -> str:
    return _environment().get_template(template).render(**context)


def render_pdf(template: str, context: dict[str, Any], **write_options: Any) -> bytes:
    """The PDF of ``template`` filled with ``context`` (plain data, not ORM objects)."""
    return _html(template, context).write_pdf(**write_options)


def render_document(
    template: str, context: dict[str, Any], **render_options: Any
) -> weasyprint.Document:
    """``template`` laid out but not yet written: for callers that set PDF metadata first.

    Call ``write_pdf(**write_options)`` on the result to get the bytes. The font
    configuration is shared by the renderings of the process (a quarter of the time of a
    one-page document goes to building a new one); our stylesheets declare no
    ``@font-face``, so there is nothing document-specific in it.
    """
    return _html(template, context).render(font_config=_font_configuration(), **render_options)


@cache
def _font_configuration() -> weasyprint.text.fonts.FontConfiguration:
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


@cache
def stylesheet(name: str) -> weasyprint.CSS:
    """The parsed stylesheet ``name`` of the templates folder, parsed once per process."""
    from weasyprint import CSS  # heavy import, only where PDFs are made

    path = (TEMPLATES_DIR / name).resolve()
    if not path.is_relative_to(TEMPLATES_DIR.resolve()):
        raise ResourceRefused(f"refused to read {name} outside the templates folder")
    return CSS(filename=str(path), url_fetcher=_local_fetcher)


def _html(template: str, context: dict[str, Any]) -> weasyprint.HTML:
    from weasyprint import HTML  # heavy import, only where PDFs are made

    return HTML(
        string=render_html(template, context),
        base_url=str(TEMPLATES_DIR) + "/",
        url_fetcher=_local_fetcher,
    )
