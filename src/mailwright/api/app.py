"""The HTTP application: every domain's router behind one FastAPI app."""

from fastapi import FastAPI

from mailwright.api.profiles import router as profiles_router
from mailwright.catalog.router import router as catalog_router
from mailwright.contacts.router import router as contacts_router
from mailwright.core.runtime import Runtime
from mailwright.core.web import install_problem_handlers
from mailwright.events.router import admin_router as events_admin_router
from mailwright.events.router import router as ingest_router
from mailwright.events.shopify_router import router as shopify_router
from mailwright.orders.router import router as orders_router
from mailwright.templates.router import router as templates_router


def create_app(runtime: Runtime) -> FastAPI:
    """Build the API for a runtime (the CLI's `serve`, tests and benchmarks all come through here)."""
    app = FastAPI(
        title="Mailwright",
        version="0.1.0",
        description="Segment-compatible ingestion, Shopify webhooks and the management API.",
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    for router in (
        ingest_router,
        shopify_router,
        contacts_router,
        profiles_router,
        catalog_router,
        orders_router,
        events_admin_router,
        templates_router,
    ):
        app.include_router(router)

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    return app
