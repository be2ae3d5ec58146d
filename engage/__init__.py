"""engage: a "You said, we did" platform for public engagements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from flask import Flask

_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask app from the environment, overridden by ``config``."""
    from engage import config as settings
    from engage import pagecache, unit_of_work
    from engage.extensions import csrf, db, end_reads_with_commit, limiter, mail, migrate

    values = settings.from_environment()
    if config:
        values.update(config)
    app = Flask(
        __name__,
        instance_path=values["ENGAGE_INSTANCE_PATH"],
        template_folder=str(_ROOT / "templates"),
        static_folder=str(_ROOT / "static"),
    )
    app.config.update(values)
    # nhsuk-frontend-jinja's macros are .jinja files: escape them too, not only .html.
    # nhsuk-frontend-jinja reads nested optional params (params.search.action): chainable.
    app.jinja_options = {
        **app.jinja_options,
        "autoescape": True,
        "undefined": jinja2.ChainableUndefined,
    }
    app.jinja_loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader(str(_ROOT / "templates")),
            jinja2.PackageLoader("nhsuk_frontend_jinja", "templates"),
        ]
    )

    db.init_app(app)
    end_reads_with_commit(app)  # after db.init_app: see its docstring
    unit_of_work.init_app(app)  # one commit per request, after its view (#23)
    migrate.init_app(
        app, db, directory=str(_ROOT / "migrations"), render_as_batch=True, compare_type=True
    )
    mail.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    from engage import i18n

    i18n.init_app(app)  # languages of the interface (issue 24)

    _import_models()
    _register_blueprints(app)

    from engage.deployment import configure_deployment, register_security_headers
    from engage.web import register_error_handlers, register_template_helpers

    register_error_handlers(app)
    register_template_helpers(app)
    register_security_headers(app)
    configure_deployment(app)  # trusted proxies, allowed hosts, __Host- cookies (#20)
    from engage import observability, tasks
    from engage.feedback import metrics as feedback_metrics
    from engage.feedback import tally as feedback_tally
    from engage.outbox import metrics as outbox_metrics

    # Request ids, JSON logs (with the worker's queued jobs), /metrics (#26).
    observability.init_app(app, task_queue=tasks.huey)
    observability.register_database_series(
        feedback_metrics.database_series, outbox_metrics.database_series
    )
    pagecache.init_app(app)
    feedback_tally.install()  # counts kept in step with every flush (issue 25)
    # Issue 24 (languages): localized_text() and language names for templates.
    from engage.languages import content as language_content

    language_content.init_app(app)

    @app.context_processor
    def site_globals() -> dict[str, Any]:
        return {
            "organisation": app.config["ENGAGE_ORGANISATION"],
            "feedback_address": app.config["ENGAGE_FEEDBACK_ADDRESS"],
        }

    if not app.testing:
        _keep_statistics(app)
    return app


def _keep_statistics(app: Flask) -> None:
    """On SQLite, describe the tables to the query planner once there is feedback and no
    description yet (extensions.keep_sqlite_statistics)."""
    from sqlalchemy.exc import SQLAlchemyError

    from engage.extensions import keep_sqlite_statistics

    with app.app_context():
        try:
            keep_sqlite_statistics(only_if_missing=True)
        except SQLAlchemyError as error:  # not migrated yet, or the file is busy
            app.logger.warning("SQLite statistics not refreshed at start: %s", error)


def _import_models() -> None:
    # Importing the model modules registers their tables on the metadata (for Alembic).
    import engage.audit  # noqa: F401
    import engage.classify.models  # noqa: F401
    import engage.concerns.models  # noqa: F401
    import engage.engagements.models  # noqa: F401
    import engage.feedback.models  # noqa: F401
    import engage.feedback.search  # noqa: F401  (creates the full-text index with the table)
    import engage.mail.models  # noqa: F401
    import engage.outbox.models  # noqa: F401
    import engage.pagecache.models  # noqa: F401
    import engage.publish.models  # noqa: F401
    import engage.staff.models  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from engage import followup, outbox, public, tasks, web
    from engage.concerns import jobs as concern_jobs
    from engage.concerns import public as concerns_public
    from engage.feedback import api_views, service
    from engage.mail import views as mail_views
    from engage.public import api as public_api
    from engage.public import engagement_views, feedback_views
    from engage.staff import auth as staff_auth
    from engage.staff import views as staff_views

    app.register_blueprint(web.bp)
    app.register_blueprint(engagement_views.bp)
    app.register_blueprint(feedback_views.bp)
    app.register_blueprint(api_views.api)
    app.register_blueprint(mail_views.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(concerns_public.bp)
    app.register_blueprint(public_api.api)
    app.register_blueprint(staff_views.bp)
    staff_auth.init_app(app)
    # Work done after an item is committed, by one owner for every channel; the worker
    # retries whatever fails.
    post_commit = followup.install()
    post_commit.hand_over_to(tasks.hand_over_new_feedback)
    # A theme's grouping staff ask for is the worker's (engage.concerns.jobs).
    concern_jobs.hand_over_to(tasks.hand_over_grouping)
    # Queued mail is sent as soon as it is committed, not at the next minute's sweep.
    outbox.hand_over_to(tasks.hand_over_outbox)
    service.follow_up_with(post_commit)
