"""The FastAPI application factory. Nothing is built at import time."""

from __future__ import annotations

from fastapi import FastAPI

from api import (
    audit,
    console,
    edge,
    errors,
    evidence,
    intake,
    issues,
    open311,
    open311_post,
    openapi_doc,
    ops,
    org,
    privacy,
    subscriptions,
    views,
    workflow,
)
from api.deps import Services


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="gridflow",
        version="0.1.0",
        description=(
            "Event-sourced workflow service for community grid governance: small matters "
            "settled on the spot, big matters coordinated, hard matters escalated by blowing "
            "the whistle (吹哨报到). Every change is an event in an append-only log."
        ),
        # Metrics are Prometheus's (/metrics); FastAPI's own OpenTelemetry hooks would
        # otherwise look up the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        generate_unique_id_function=openapi_doc.operation_id,
    )
    openapi_doc.install(app)
    app.state.services = services
    app.state.metrics = ops.Metrics()
    app.state.metrics.share(ops.Quarantined(services.views.quarantined))
    app.state.metrics.share(
        ops.Backlogs(
            services.service.head,
            services.views.engine.position,
            services.audit.position,
            services.outbox.backlog,
        )
    )
    errors.install(app)
    open311.install(app)
    edge.install(app, services.evidence.max_bytes)
    edge.install_cors(app, services.cors_origins)
    app.add_middleware(ops.Observe)  # the outermost: it sees every answer, the edge's too
    app.include_router(views.router)
    app.include_router(issues.router)
    app.include_router(views.supervision)
    app.include_router(org.router)
    app.include_router(open311.router)
    assert open311_post.router is open311.router  # its routes are on this router
    app.include_router(audit.router)
    app.include_router(privacy.router)
    app.include_router(intake.router)
    app.include_router(evidence.router)
    app.include_router(subscriptions.router)
    app.include_router(workflow.router)
    console.install(app)
    app.include_router(ops.router)
    return app
