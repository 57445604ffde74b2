"""HTML to PDF with WeasyPrint, tagged for screen readers (PDF/UA-1). The renderer may read nothing but
``data:`` URIs and the application's own static files: an address in an offer's text must never make the
server fetch something of its choosing."""

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


class PdfUnavailable(Exception):
    """WeasyPrint, or the Pango library it needs, is missing on this machine."""


def render(html: str, files: Path) -> bytes:
    """The PDF of ``html``, whose relative addresses (fonts) are files under ``files``."""
    try:
        import weasyprint
        from weasyprint.urls import URLFetcher
    except (ImportError, OSError) as error:  # OSError: the package is there, Pango is not
        raise PdfUnavailable(str(error)) from error
    files = files.resolve()

    class OwnFilesOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("file:") and not Path(unquote(urlsplit(url).path)).resolve().is_relative_to(files):
                raise ValueError(f"not one of the application's files: {url}")
            return super().fetch(url, headers)

    fetcher = OwnFilesOnly(allowed_protocols=("data", "file"))
    document = weasyprint.HTML(string=html, base_url=files.as_uri() + "/", url_fetcher=fetcher)
    return bytes(document.write_pdf(pdf_variant="pdf/ua-1"))
