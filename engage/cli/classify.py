"""``engage train``, ``evaluate``, ``classify`` and ``models``: the theme classifier."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from engage.cli.output import echo_json
from engage.unit_of_work import transaction


@click.command("train")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--force", is_flag=True, help="Activate the new model even if it scores lower.")
@click.option("--if-missing", is_flag=True, help="Only train when no usable model is active.")
@with_appcontext
def train_command(as_json: bool, force: bool, if_missing: bool) -> None:
    """Train a theme model on the seed corpus plus staff-confirmed labels."""
    from engage.classify import service

    try:
        with transaction():  # the new version is stored once the command has trained it
            _train(service, as_json=as_json, force=force, if_missing=if_missing)
    except service.NoTrainingDataError as error:
        if not if_missing:
            raise click.ClickException(str(error)) from error
        # Setup goes on without a model: items stay unclassified until one is trained.
        click.echo(f"engage: no model trained: {error}", err=True)


def _train(service, *, as_json: bool, force: bool, if_missing: bool) -> None:
    if if_missing:
        result = service.ensure_model()
        if result is None:
            version = service.active_version()
            message = {
                "version": version.version if version else None,
                "activated": False,
                "reason": "a usable model is already active",
            }
            echo_json(message) if as_json else click.echo(
                f"Model {message['version']} is active; nothing to train."
            )
            return
    else:
        result = service.train_model(force=force)
    if as_json:
        echo_json(result.as_dict())
        return
    holdout = result.holdout or {}
    click.echo(
        f"Trained {result.version} on {result.n_train} items "
        f"({result.n_staff_labels} staff labels); CV macro-F1 {result.cv.get('macro_f1', 0):.3f}"
        + (f", held-out macro-F1 {holdout['macro_f1']:.3f}" if holdout else "")
    )
    click.echo(("Activated: " if result.activated else "Not activated: ") + result.reason)


@click.command("evaluate")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the scores as one JSON object.")
@with_appcontext
def evaluate_command(path: str, as_json: bool) -> None:
    """Score the active model on a labelled CSV (columns text,themes)."""
    from engage.classify import service
    from engage.classify.corpus import load_corpus
    from engage.classify.training import evaluate

    try:
        texts, labels = load_corpus(path)
    except (ValueError, UnicodeDecodeError) as error:
        raise click.ClickException(str(error)) from error
    if not texts:
        raise click.ClickException(f"{path} has no rows")
    try:
        model, row = service.load_active()
    except service.NoModelError as error:
        raise click.ClickException(str(error)) from error
    result = evaluate(model, texts, labels, model_version=row.version)
    if as_json:
        echo_json(result)
        return
    click.echo(
        f"Model {row.version} on {result['n']} items: macro-F1 {result['macro_f1']:.3f}, "
        f"micro-F1 {result['micro_f1']:.3f}"
    )
    for theme, m in result["per_theme"].items():
        click.echo(
            f"  {theme:<20} P {m['precision']:.3f}  R {m['recall']:.3f}  "
            f"F1 {m['f1']:.3f}  n={m['support']}"
        )


@click.command("classify")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@with_appcontext
def classify_command(text: str, as_json: bool) -> None:
    """Tag one piece of text with the active model (and give its language)."""
    from engage.classify import service
    from engage.feedback.themes import percent
    from engage.languages import detect, names  # issue 24

    try:
        model, row = service.load_active()
    except service.NoModelError as error:
        raise click.ClickException(str(error)) from error
    language = detect.detect(text)
    if language != detect.ENGLISH:
        # As in the classification job: the English model does not read other languages.
        result = {
            "language": language,
            "needs_translation": True,
            "themes": [],
            "unclassified": False,
            "probabilities": {},
            "model_version": row.version,
        }
        if as_json:
            echo_json(result)
            return
        click.echo(f"needs translation: written in {names.name(language)} ({language})")
        return
    proba = model.predict_proba([text])[0]
    # Unrounded, as stored on a tag, so that percent() of any figure printed is the
    # inbox's percent (0.97497 rounded to 0.975 would read 98% beside "percent": 97).
    themes = [
        {"theme": slug, "confidence": float(p), "percent": percent(float(p))}
        for slug, p, threshold in zip(model.themes, proba, model.thresholds, strict=True)
        if p >= threshold
    ]
    themes.sort(key=lambda t: -t["confidence"])
    result = {
        "language": language,
        "needs_translation": False,
        "themes": themes,
        "unclassified": not themes,
        "probabilities": {s: float(p) for s, p in zip(model.themes, proba, strict=True)},
        "model_version": row.version,
    }
    if as_json:
        echo_json(result)
        return
    if not themes:
        likeliest = sorted(result["probabilities"].items(), key=lambda sp: -sp[1])[:2]
        guesses = ", ".join(f"{slug} {percent(p)}%" for slug, p in likeliest)
        click.echo(f"unclassified (model {row.version}); likeliest: {guesses}")
    for theme in themes:
        click.echo(f"{theme['theme']}\t{theme['percent']}%")


@click.command("detect-languages")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@with_appcontext
def detect_languages_command(as_json: bool) -> None:
    """Detect the language of items stored before detection existed (issue 24)."""
    from engage.languages import backfill, names

    found = backfill.detect_missing()
    if as_json:
        echo_json({"detected": found})
        return
    if not found:
        click.echo("Every item has its language already.")
    for code, n in sorted(found.items(), key=lambda cn: -cn[1]):
        click.echo(f"{names.name(code)} ({code})\t{n}")


@click.group("models")
def models_group() -> None:
    """List stored theme models, or roll back to one."""


@models_group.command("list")
@with_appcontext
def models_list_command() -> None:
    """List every stored model, newest first."""
    from sqlalchemy import select

    from engage.classify.models import ModelVersion
    from engage.extensions import db

    for row in db.session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc())):
        holdout = row.holdout_macro_f1
        click.echo(
            f"{'*' if row.active else ' '} {row.version:<22} {row.trained_at:%Y-%m-%d %H:%M}  "
            f"n={row.n_train:<6} CV macro-F1 {row.cv_metrics.get('macro_f1', 0):.3f}"
            + (f"  held-out {holdout:.3f}" if holdout is not None else "")
        )


@models_group.command("activate")
@click.argument("version")
@with_appcontext
def models_activate_command(version: str) -> None:
    """Make a stored model version the active one (roll back or forward)."""
    from engage.classify import service

    try:
        with transaction():
            row = service.activate(version)
    except (LookupError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Model {row.version} is now active.")


@models_group.command("agreement")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def models_agreement_command(as_json: bool) -> None:
    """How each version's tags compare with the themes staff gave the same items."""
    from engage.classify.agreement import staff_agreement

    found = list(staff_agreement().values())  # oldest version first
    if as_json:
        echo_json([v.as_dict() for v in found])
        return
    if not found:
        click.echo("No item has been reviewed since a model tagged it.")
    for v in found:
        macro = "too few to say" if v.macro_f1 is None else f"macro-F1 {v.macro_f1:.3f}"
        click.echo(f"{v.version}: {v.items} reviewed, {macro}")
        for t in v.themes:
            f1 = "-" if t.f1 is None else f"{t.f1:.2f}"
            click.echo(
                f"  {t.slug:<20} both {t.both:<5} model only {t.model_only:<5} "
                f"staff only {t.staff_only:<5} F1 {f1}"
            )
