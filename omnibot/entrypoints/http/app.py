"""The Flask application factory: the shop API and the messenger webhooks."""

from __future__ import annotations

from flask import Flask

from omnibot import bootstrap
from omnibot.entrypoints.http import edge, errors, health, metrics
from omnibot.entrypoints.http.admin import pages as admin
from omnibot.entrypoints.http.api import customers, docs
from omnibot.entrypoints.http.api import notifications as api
from omnibot.entrypoints.http.webhooks import routes as webhooks
from omnibot.settings import Settings


def create_app(services: bootstrap.Services | None = None) -> Flask:
    services = services or bootstrap.build(Settings.from_env())
    app = Flask("omnibot")
    edge.configure(app, services.settings)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.register_blueprint(health.blueprint(services))
    app.register_blueprint(metrics.blueprint(services))
    app.register_blueprint(api.blueprint(services))
    app.register_blueprint(customers.blueprint(services))
    app.register_blueprint(webhooks.blueprint(services))
    app.register_blueprint(docs.blueprint())
    app.register_blueprint(admin.blueprint(services))  # the operators' pages under /admin, not the API
    errors.register(app)
    app.extensions["omnibot"] = services
    return app
