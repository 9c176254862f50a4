"""The HTTP application: every domain's router behind one FastAPI app."""

from fastapi import FastAPI

from mailwright.analytics.router import router as analytics_router
from mailwright.api.profiles import router as profiles_router
from mailwright.campaigns.router import router as campaigns_router
from mailwright.catalog.router import router as catalog_router
from mailwright.connectors.router import router as connectors_router
from mailwright.connectors.snippet import router as snippet_router
from mailwright.connectors.woocommerce_router import router as woocommerce_router
from mailwright.contacts.router import router as contacts_router
from mailwright.core.runtime import Runtime
from mailwright.core.web import install_problem_handlers
from mailwright.delivery.router import router as delivery_router
from mailwright.events.router import admin_router as events_admin_router
from mailwright.events.router import router as ingest_router
from mailwright.events.shopify_router import router as shopify_router
from mailwright.flows.router import router as flows_router
from mailwright.orders.router import router as orders_router
from mailwright.segments.analysis_router import router as rfm_router
from mailwright.segments.router import router as segments_router
from mailwright.templates.router import router as templates_router
from mailwright.tracking.router import admin_router as tracking_admin_router
from mailwright.tracking.router import router as tracking_router


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
        analytics_router,
        ingest_router,
        shopify_router,
        contacts_router,
        profiles_router,
        catalog_router,
        orders_router,
        events_admin_router,
        templates_router,
        delivery_router,
        connectors_router,
        woocommerce_router,
        snippet_router,
        rfm_router,
        segments_router,
        campaigns_router,
        flows_router,
        tracking_router,
        tracking_admin_router,
    ):
        app.include_router(router)

    @app.get("/healthz", tags=["ops"], summary="Liveness")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    return app
