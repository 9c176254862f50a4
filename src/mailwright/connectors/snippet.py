"""The site snippet: vendored JavaScript served by Mailwright itself (no CDN), cached for an hour."""

from importlib.resources import files

from fastapi import APIRouter, Response

router = APIRouter(tags=["site snippet"])

SNIPPET_PATH = "/snippet/mailwright.js"


def snippet_source() -> str:
    """The snippet's JavaScript as shipped in the package."""
    return files("mailwright.connectors").joinpath("static/mailwright.js").read_text(encoding="utf-8")


@router.get(SNIPPET_PATH, summary="The site snippet (JavaScript)", include_in_schema=True)
def snippet() -> Response:
    """The snippet a shop adds to its pages; it posts to this server's /v1 API with the write key."""
    return Response(
        snippet_source(),
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"},
    )
