"""Reusable MJML partials (header, footer, product grid, cart, order summary, coupon, review, CTA).

A template uses one with `{% include "blocks/NAME.mjml" %}`; set the block's parameters with
`{% set %}` first. Includes are expanded as text before compiling, so a block costs nothing per
recipient beyond its own Jinja expressions.
"""

from pathlib import Path

BLOCKS_DIR = Path(__file__).resolve().parent

PARTIALS: dict[str, str] = {
    f"blocks/{path.name}": path.read_text(encoding="utf-8") for path in sorted(BLOCKS_DIR.glob("*.mjml"))
}
