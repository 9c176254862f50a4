"""The HTML pages a recipient sees (unsubscribe, preferences, sign-up results), rendered with Jinja2."""

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

PAGES_DIR = Path(__file__).resolve().parent / "pages"
TOPIC_LABELS = {
    "newsletter": "Newsletter",
    "offers": "Offers and sales",
    "product_news": "New products and restocks",
}

_env = Environment(
    loader=FileSystemLoader(PAGES_DIR),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, **context: Any) -> str:
    """Render one page template with its context (HTML-escaped)."""
    return _env.get_template(name).render(topic_labels=TOPIC_LABELS, **context)
