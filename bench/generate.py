"""Deterministic benchmark data: a loaded database, a theme model and mbox files.

    python -m bench.generate model --out DIR
        fit a theme model on the seed corpus (no cross-validation: thresholds 0.5) and
        save it as DIR/bench-model.skops; prints {"file":…, "seconds":…}
    python -m bench.generate data --database-url URL --instance DIR --model-dir DIR
        migrate an empty database and fill it: the three demo engagements, 100,000
        feedback items with model (and some staff) theme tags, 5,000 published
        responses linked to items, campaign groups, a triager account and the model's
        registry row; prints counts and seconds as one JSON line
    python -m bench.generate mbox --out FILE --messages N [--tag T]
        write an mbox of N realistic emails; prints {"file":…, "messages":…, "bytes":…}

Everything comes from ``random.Random(seed)``: the same seed gives the same data.
Rows go in with SQLAlchemy Core executemany in large batches (with ``--copy``, on
PostgreSQL, with COPY FROM STDIN: ``python -m bench growth`` loads up to 1,000,000
items that way). The full-text index
(engage.feedback.search) is uninstalled for the load and installed afterwards: on
SQLite that recreates feedback_fts and its triggers and rebuilds the index in one
pass (the triggers firing row by row cost some 20 s more); on PostgreSQL it builds
the GIN index once. PostgreSQL's tables are then VACUUM ANALYZEd (what autovacuum
would do soon after a bulk load) and a CHECKPOINT writes the load out before anything
is measured; SQLite gets no ANALYZE, as in a real deployment.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import html
import json
import os
import quopri
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import common, textgen  # noqa: E402

SEED = 9  # issue #9
N_ITEMS = 100_000
N_RESPONSES = 5_000
N_CAMPAIGNS = 20
CAMPAIGN_SIZE = 100
STAFF_EMAIL = "triager@bench.example.org"
STAFF_PASSWORD = "bench-triager-password-9"
# Publishers (the response editor), one per load-test client: a sign-in code is good
# once per account (the replay guard), so each client has its own authenticator secret.
PUBLISHERS = 8
PUBLISHER_PASSWORD = "bench-publisher-password-22"


def publisher_email(n: int) -> str:
    return f"publisher{n}@bench.example.org"


def publisher_secret(n: int) -> str:
    """A fixed base32 TOTP secret for bench publisher ``n``."""
    return base64.b32encode(f"bench-publisher-{n:04d}".encode()).decode().rstrip("=")


MODEL_FILE = "bench-model.skops"
MODEL_VERSION = "bench-v1"
OPEN_UNTIL = datetime(2025, 10, 31, 23, 59)  # fixed "now" for the always-open engagement
BATCH = 10_000
_ENGAGEMENT_KEYS = ("nwl", "nel", "open")

# Share of the 100k items per engagement key of engage.demo.ENGAGEMENTS.
ENGAGEMENT_SHARE = {"nwl": 0.45, "nel": 0.25, "open": 0.30}
CHANNEL_WEIGHTS = {
    "web": 50,
    "email": 28,
    "api": 6,
    "import": 6,
    "phone": 4,
    "letter": 4,
    "meeting": 2,
}
CAMPAIGN_LETTERS = [
    (
        ["decision-making", "clinical-leadership"],
        "I am writing to oppose the merger of the eight CCGs. Decisions about {borough} must "
        "be made in {borough}, by people who are accountable to us. Keep our local CCG and "
        "keep GPs in charge of commissioning.",
    ),
    (
        ["services"],
        "Save our {service}! I object to any plan that moves the {service} out of {place}. "
        "Elderly and disabled residents cannot travel further for care.",
    ),
    (
        ["jobs"],
        "As a member of the union I call on you to guarantee that no CCG staff will be made "
        "redundant as a result of this reorganisation, and that all posts transfer under TUPE.",
    ),
    (
        ["money"],
        "Stop the cuts. The money for community services in {borough} must be ring-fenced "
        "and not used to pay off hospital deficits.",
    ),
]


def log(message: str) -> None:
    print(f"[generate] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------ model


def make_model(out_dir: Path) -> dict:
    """Fit the default design on the seed corpus, without cross-validation (fast).

    Thresholds are 0.5: the figures measure the cost of classifying, not its quality,
    which ``engage train`` and bench_classify.py cover.
    """
    import numpy as np

    from engage.classify.corpus import THEMES, default_corpus_paths, load_corpus, training_hash
    from engage.classify.designs import BEST_DESIGN, build_pipeline
    from engage.classify.model import ThemeModel, save
    from engage.classify.text import normalise

    started = time.perf_counter()
    texts, Y = load_corpus(default_corpus_paths())
    estimator = build_pipeline(BEST_DESIGN).fit([normalise(t) for t in texts], Y)
    metadata = {
        "design": BEST_DESIGN,
        "themes": list(THEMES),
        "thresholds": {t: 0.5 for t in THEMES},
        "n_train": len(texts),
        "training_sha256": training_hash(texts, Y),
        "cv": {},
        "note": "benchmark model: fitted without cross-validation",
    }
    model = ThemeModel(estimator, np.full(len(THEMES), 0.5), metadata)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / MODEL_FILE
    save(model, path)
    return {
        "file": str(path),
        "design": BEST_DESIGN,
        "n_train": len(texts),
        "training_sha256": metadata["training_sha256"],
        "seconds": round(time.perf_counter() - started, 2),
    }


# ------------------------------------------------------------------------- data


def _window(spec: dict) -> tuple[datetime, datetime]:
    start = datetime.combine(spec["opens_on"], datetime.min.time())
    end_day: date = spec.get("extended_to") or spec["closes_on"]
    end = min(datetime.combine(end_day, datetime.max.time()), OPEN_UNTIL)
    return start, end


def _when(rng: random.Random, start: datetime, end: datetime) -> datetime:
    # Busier towards the deadline, as consultations are.
    fraction = rng.random() ** 0.7
    seconds = int((end - start).total_seconds() * fraction)
    return (start + timedelta(seconds=seconds)).replace(microsecond=0)


def build_rows(engagement_ids: dict[str, int], theme_ids: dict[str, int], n_items: int, seed: int):
    """Every row to insert, as plain dicts, from one seeded generator."""
    from engage.demo import ENGAGEMENTS
    from engage.feedback.models import Channel, Status, TagSource
    from engage.publish.models import ResponseState, ResponseStatus, RevisionKind

    rng = random.Random(seed)
    channels = tuple(Channel(c) for c in CHANNEL_WEIGHTS)
    channel_weights = textgen.cumulative(CHANNEL_WEIGHTS.values())
    statuses_new = (Status.NEW, Status.TRIAGED, Status.ARCHIVED, Status.SPAM)
    status_weights = textgen.cumulative([50, 38, 9, 3])
    pick = textgen.pick
    keys = list(ENGAGEMENT_SHARE)
    counts = {k: int(n_items * ENGAGEMENT_SHARE[k]) for k in keys}
    counts[keys[0]] += n_items - sum(counts.values())

    # Campaign groups: template letters sent by many people, grouped as duplicates.
    campaigns = []
    for number in range(N_CAMPAIGNS):
        key = keys[number % len(keys)]
        spec = ENGAGEMENTS[key]
        themes, letter = CAMPAIGN_LETTERS[number % len(CAMPAIGN_LETTERS)]
        text = textgen._fill(letter, rng, rng.choice(spec["areas"]))
        campaigns.append({"id": number + 1, "key": key, "text": text, "themes": themes})

    items: list[dict] = []
    true_themes: list[list[str]] = []
    for key in keys:
        spec = ENGAGEMENTS[key]
        start, end = _window(spec)
        key_campaigns = [c for c in campaigns if c["key"] == key]
        for _ in range(counts[key]):
            borough = pick(rng, spec["areas"])
            campaign = None
            if key_campaigns and rng.random() < N_CAMPAIGNS * CAMPAIGN_SIZE / n_items:
                campaign = pick(rng, key_campaigns)
            if campaign:
                themes = list(campaign["themes"])
                text = campaign["text"]
                if rng.random() < 0.5:  # people add a line of their own
                    text += " " + textgen._fill(rng.choice(textgen.NEUTRAL), rng, borough)
            else:
                themes = textgen.pick_themes(rng)
                text = textgen.feedback_text(rng, themes, borough)
            channel = textgen.weighted(rng, channels, channel_weights)
            name, email = textgen.person(rng)
            has_email = channel in (Channel.EMAIL, Channel.IMPORT) or rng.random() < 0.55
            submitted_at = _when(rng, start, end)
            area_roll = rng.random()
            area = borough if area_roll < 0.8 else (None if area_roll < 0.97 else "Somewhere else")
            consent = rng.random() < 0.4
            items.append(
                {
                    "engagement_key": key,
                    "engagement_id": engagement_ids[key],
                    "channel": channel,
                    "submitted_at": submitted_at,
                    "text": text,
                    "subject": (
                        rng.choice(
                            [
                                f"Re: {spec['title']}",
                                f"{spec['title']} consultation",
                                "My views",
                                "Feedback",
                                "Consultation response",
                            ]
                        )
                        if channel in (Channel.EMAIL, Channel.IMPORT)
                        else None
                    ),
                    "author_name": name if rng.random() < 0.7 else None,
                    "author_email": email if has_email else None,
                    "area": area,
                    "consent_to_quote": consent,
                    "contact_me": has_email and rng.random() < 0.35,
                    "status": Status.DUPLICATE if campaign and rng.random() < 0.7 else None,
                    "ack_pending": False,
                    "duplicate_group_id": campaign["id"] if campaign else None,
                    "redacted_text": text if consent and rng.random() < 0.15 else None,
                }
            )
            true_themes.append(themes)

    # Ids follow submission time, as they do when feedback arrives.
    order = sorted(range(len(items)), key=lambda i: (items[i]["submitted_at"], i))
    items = [items[i] for i in order]
    true_themes = [true_themes[i] for i in order]
    by_key: dict[str, list[int]] = {k: [] for k in keys}
    for index, item in enumerate(items, start=1):
        item["id"] = index
        item["reference"] = f"YS-{item['submitted_at'].year}-{index:06d}"
        if item["channel"] in (Channel.EMAIL, Channel.IMPORT):
            item["message_id"] = f"bench-{index}.{item['submitted_at']:%Y%m%d}@mail.example.net"
        else:
            item["message_id"] = None
        if item["status"] is None:
            item["status"] = textgen.weighted(rng, statuses_new, status_weights)
        if item["status"] != Status.SPAM:
            by_key[item["engagement_key"]].append(index)

    # Published responses, each linked to items of its engagement sent before it.
    responses, response_themes, response_items, revisions, milestones = [], [], [], [], []
    linked: set[int] = set()
    statuses = list(ResponseStatus)
    n_total = sum(counts.values())
    response_id = 0
    for key in keys:
        spec = ENGAGEMENTS[key]
        start, end = _window(spec)
        pool = by_key[key]
        pool_times = [items[i - 1]["submitted_at"] for i in pool]
        for _ in range(round(N_RESPONSES * counts[key] / n_total)):
            response_id += 1
            chosen = sorted(
                set(rng.choices(textgen.THEMES, weights=[18, 26, 12, 32, 12], k=rng.randint(1, 2))),
                key=textgen.THEMES.index,
            )
            borough = rng.choice(spec["areas"])
            published = _when(rng, start + (end - start) / 4, end + timedelta(days=60))
            published = min(published, OPEN_UNTIL)
            status = rng.choice(statuses)
            said, did = textgen.you_said(rng, chosen[0], borough), textgen.we_did(rng, borough)
            updated = published + timedelta(days=rng.randint(1, 90)) if rng.random() < 0.3 else None
            responses.append(
                {
                    "id": response_id,
                    "engagement_id": engagement_ids[key],
                    "you_said": said,
                    "we_did": did,
                    "status": status,
                    "state": ResponseState.PUBLISHED,
                    "published_at": published,
                    "public_updated_at": updated,
                    "published_by": "publisher@bench.example.org",
                    "created_at": published - timedelta(days=rng.randint(1, 14)),
                }
            )
            for slug in chosen:
                response_themes.append({"response_id": response_id, "theme_id": theme_ids[slug]})
            cut = bisect.bisect_right(pool_times, published)
            if cut:
                k = min(cut, int(rng.paretovariate(1.3)) + rng.randint(0, 6))
                for item_id in {pool[int(rng.random() * cut)] for _ in range(k)}:
                    response_items.append({"response_id": response_id, "item_id": item_id})
                    linked.add(item_id)
            for kind, at, public in (
                (RevisionKind.CREATED, responses[-1]["created_at"], False),
                (RevisionKind.PUBLISHED, published, True),
            ):
                revisions.append(
                    {
                        "response_id": response_id,
                        "at": at,
                        "kind": kind,
                        "you_said": said,
                        "we_did": did,
                        "status": status,
                        "note": "",
                        "public": public,
                        "by": "publisher@bench.example.org",
                    }
                )
            for m in range(rng.choices([0, 1, 2], weights=[6, 3, 1])[0]):
                milestones.append(
                    {
                        "response_id": response_id,
                        "on": (published + timedelta(days=30 * (m + 1))).date(),
                        "text": rng.choice(textgen.MILESTONES),
                        "created_at": published,
                    }
                )
    for item_id in linked:
        item = items[item_id - 1]
        if item["status"] in (Status.NEW, Status.TRIAGED):
            item["status"] = Status.RESPONDED

    # Theme tags: the model's on 90% of items (10% wait for the classifier), and staff
    # tags on the items staff reviewed.
    tags = []
    for item, themes in zip(items, true_themes, strict=True):
        item.pop("engagement_key")
        classified = rng.random() < 0.9
        submitted = item["submitted_at"]
        item["classified_at"] = submitted + timedelta(seconds=2) if classified else None
        item["model_version"] = MODEL_VERSION if classified else None
        item["certainty"] = round(rng.random() * 0.5, 4) if classified else None
        reviewed = item["status"] != Status.NEW and rng.random() < 0.6
        item["themes_reviewed_at"] = (
            submitted + timedelta(days=rng.randint(1, 20)) if reviewed else None
        )
        if classified:
            predicted = [t for t in themes if rng.random() < 0.9]
            if rng.random() < 0.08:
                predicted.append(rng.choice(textgen.THEMES))
            for slug in sorted(set(predicted)):
                tags.append(
                    {
                        "item_id": item["id"],
                        "theme_id": theme_ids[slug],
                        "source": TagSource.MODEL,
                        "confidence": round(0.5 + rng.random() * 0.49, 4),
                        "model_version": MODEL_VERSION,
                        "created_at": item["classified_at"],
                    }
                )
        if reviewed:
            for slug in themes:
                tags.append(
                    {
                        "item_id": item["id"],
                        "theme_id": theme_ids[slug],
                        "source": TagSource.STAFF,
                        "confidence": 1.0,
                        "model_version": None,
                        "created_at": item["themes_reviewed_at"],
                    }
                )
    members_of: dict[int, list[dict]] = {c["id"]: [] for c in campaigns}
    for item in items:
        if item["duplicate_group_id"]:
            members_of[item["duplicate_group_id"]].append(item)
    groups = []
    for campaign in campaigns:
        members = members_of[campaign["id"]]
        groups.append(
            {
                "id": campaign["id"],
                "engagement_id": engagement_ids[campaign["key"]],
                "size": len(members),
                "sample_text": campaign["text"],
                "created_at": members[0]["submitted_at"] if members else OPEN_UNTIL,
                "updated_at": members[-1]["submitted_at"] if members else OPEN_UNTIL,
            }
        )
    return {
        "duplicate_group": groups,
        "feedback_item": items,
        "theme_tag": tags,
        "response": responses,
        "response_theme": response_themes,
        "response_item": response_items,
        "response_revision": revisions,
        "response_milestone": milestones,
    }


def _insert(connection, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        connection.execute(table.insert(), rows[start : start + BATCH])


def _copy(connection, table, rows: list[dict]) -> None:
    """PostgreSQL's COPY FROM STDIN through psycopg, each value turned into what the
    column stores by the column type's own bind processor (enums to their values,
    JSON to text), so the rows are the ones ``_insert`` would have written."""
    if not rows:
        return
    names = list(rows[0])
    dialect = connection.dialect
    processors = [table.c[name].type.bind_processor(dialect) for name in names]
    converters = [(name, proc) for name, proc in zip(names, processors, strict=True)]
    cursor = connection.connection.driver_connection.cursor()
    columns = ", ".join(f'"{name}"' for name in names)
    with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([proc(row[name]) if proc else row[name] for name, proc in converters])


def keep_staff_labels(rows: dict[str, list[dict]], count: int) -> None:
    """Keep staff review on ``count`` items spread evenly over the data set, and clear it
    on the rest (their staff tags go; their model tags stay), so that `engage train` has
    the same number of staff labels at every size (bench/bench_growth.py)."""
    from engage.feedback.models import TagSource

    reviewed = [item for item in rows["feedback_item"] if item["themes_reviewed_at"]]
    if len(reviewed) <= count:
        return
    step = len(reviewed) / count
    kept = {reviewed[int(n * step)]["id"] for n in range(count)}
    for item in reviewed:
        if item["id"] not in kept:
            item["themes_reviewed_at"] = None
    rows["theme_tag"] = [
        tag
        for tag in rows["theme_tag"]
        if tag["source"] != TagSource.STAFF or tag["item_id"] in kept
    ]


def add_publishers() -> None:
    """The bench's publisher accounts, two-factor sign-in set up with known secrets."""
    from engage.extensions import db
    from engage.staff.accounts import create_staff
    from engage.staff.models import Role

    for n in range(PUBLISHERS):
        user = create_staff(
            email=publisher_email(n),
            role=Role.PUBLISHER,
            password=PUBLISHER_PASSWORD,
            name=f"Bench publisher {n}",
        )
        user.totp_secret = publisher_secret(n)
        user.totp_confirmed_at = datetime(2019, 5, 1)
    db.session.flush()


def load_data(args: argparse.Namespace) -> dict:
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["ENGAGE_INSTANCE_PATH"] = args.instance
    os.environ["ENGAGE_MODEL_DIR"] = args.model_dir
    os.environ.setdefault("SECRET_KEY", "bench-secret-key")
    os.environ["RATELIMIT_ENABLED"] = "false"

    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from engage import create_app
    from engage.classify.models import ModelVersion
    from engage.demo import ENGAGEMENTS, ensure_engagement
    from engage.extensions import db
    from engage.feedback import search, tally
    from engage.feedback.service import ensure_default_themes
    from engage.staff.accounts import create_staff
    from engage.staff.models import Role

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    app = create_app()
    with app.app_context():
        upgrade()
        timings["migrate"] = round(time.perf_counter() - t0, 2)
        dialect = db.engine.dialect.name
        themes = {t.slug: t.id for t in ensure_default_themes()}
        ids = {}
        for key, spec in ENGAGEMENTS.items():
            engagement = ensure_engagement(spec)  # the demo's seeds, as `make run` has them
            db.session.flush()
            ids[key] = engagement.id
        create_staff(email=STAFF_EMAIL, role=Role.TRIAGER, password=STAFF_PASSWORD, name="Bench")
        add_publishers()
        model_meta = json.loads(Path(args.model_dir, "bench-model.json").read_text())
        db.session.add(
            ModelVersion(
                version=MODEL_VERSION,
                design=model_meta["design"],
                file_name=MODEL_FILE,
                n_train=model_meta["n_train"],
                training_sha256=model_meta["training_sha256"],
                cv_metrics={},
                thresholds={t: 0.5 for t in textgen.THEMES},
                active=True,
                activated_at=datetime(2019, 5, 1),
                note="benchmark model",
            )
        )
        db.session.commit()

        t = time.perf_counter()
        rows = build_rows(ids, themes, args.items, args.seed)
        if args.staff_labels is not None:
            keep_staff_labels(rows, args.staff_labels)
        timings["build_rows"] = round(time.perf_counter() - t, 2)
        log(f"built {len(rows['feedback_item']):,} items in {timings['build_rows']} s")

        t = time.perf_counter()
        metadata = db.metadata
        load = _copy if args.copy and dialect == "postgresql" else _insert
        with db.engine.begin() as connection:
            # The full-text index is built once after the load (what its triggers would
            # do row by row, some 20 s slower on SQLite): uninstall, load, install.
            if load is _copy:
                # Only the GIN index goes: adding the stored document column back
                # afterwards would rewrite the table and rebuild all its indexes.
                connection.execute(text("DROP INDEX IF EXISTS ix_feedback_item_search"))
            else:
                search.uninstall(connection)
            for name, table_rows in rows.items():
                t1 = time.perf_counter()
                load(connection, metadata.tables[name], table_rows)
                log(f"{name}: {len(table_rows):,} rows in {time.perf_counter() - t1:.1f} s")
        timings["insert"] = round(time.perf_counter() - t, 2)
        del rows
        t = time.perf_counter()
        with db.engine.begin() as connection:
            if dialect == "postgresql":
                # Room to sort the GIN index's entries in memory (this transaction only).
                connection.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
            search.install(connection)  # the FTS5 table and its triggers, or the GIN index
            # The rows went in beside the app: count them as its writes would have.
            tally.rebuild(connection)
            if dialect == "postgresql":
                for name in (
                    "feedback_item",
                    "theme_tag",
                    "response",
                    "response_revision",
                    "response_milestone",
                    "duplicate_group",
                ):
                    connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT max(id) FROM {name}))"
                        )
                    )
        if dialect == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE"))
                _checkpoint(c)
        timings["index_and_analyze"] = round(time.perf_counter() - t, 2)
        counts = {
            name: db.session.scalar(select(func.count()).select_from(metadata.tables[name]))
            for name in ("feedback_item", "theme_tag", "response", "response_item")
        }
        if dialect == "sqlite":
            counts["feedback_fts"] = db.session.scalar(text("SELECT count(*) FROM feedback_fts"))
    timings["total"] = round(time.perf_counter() - t0, 2)
    return {"dialect": dialect, "rows": counts, "seconds": timings}


def _checkpoint(connection) -> None:
    """Write the bulk load's dirty pages out now (PostgreSQL's CHECKPOINT). Otherwise the
    next timed checkpoint writes some 200 MB while the benchmark runs, and every commit
    it measures waits on a busy disk (one run's form p95 went from 20 to 500 ms)."""
    from sqlalchemy import text

    try:
        connection.execute(text("CHECKPOINT"))
    except Exception as error:  # a role without pg_checkpoint: measure anyway, and say so
        log(f"no CHECKPOINT ({type(error).__name__}); figures may be noisier")


# ------------------------------------------------------------------------- mbox


_MAIL_KINDS = (
    "plain",
    "alternative",
    "html",
    "attachment",
    "latin",
    "reply",
    "auto",
    "bounce",
    "list",
)
_MAIL_WEIGHTS = textgen.cumulative([52, 12, 5, 3, 3, 15, 5, 1, 4])


def _qp(text: str, charset: str = "utf-8") -> str:
    return quopri.encodestring(text.replace("\n", "\r\n").encode(charset)).decode("ascii")


def _message(rng: random.Random, number: int, tag: str) -> str:
    """One raw email (as text with \\n line ends) as it would sit in a mailbox export.

    Built by hand rather than with email.message (which is some 10x slower): headers,
    quoted-printable or base64 bodies and MIME boundaries as mail clients write them.
    """
    from engage.demo import ENGAGEMENTS

    spec = ENGAGEMENTS[textgen.pick(rng, _ENGAGEMENT_KEYS)]
    start, end = _window(spec)
    when = _when(rng, start, end)
    borough = textgen.pick(rng, spec["areas"])
    name, address = textgen.person(rng)
    kind = textgen.weighted(rng, _MAIL_KINDS, _MAIL_WEIGHTS)
    body = textgen.feedback_text(rng, textgen.pick_themes(rng), borough)
    if rng.random() < 0.5:
        body += f"\n\n{name}\n{textgen.pick(rng, textgen.PLACES)}"
    if rng.random() < 0.3:
        body += "\n\n-- \nSent from my phone"
    to_roll = rng.random()
    if to_roll < 0.45:
        to = f"engage+{spec['slug']}@engage.example.org"
    elif to_roll < 0.75:
        to = spec["email_address"]
    else:
        to = "engage@engage.example.org"
    subject = textgen.pick(
        rng,
        [
            spec["title"],
            f"Re: {spec['title']}",
            "Consultation response",
            "My views",
            f"Concerns about the {textgen.pick(rng, textgen.SERVICES)} in {borough}",
        ],
    )
    sender = f'"{name}" <{address}>'
    extra = []
    boundary = f"=_bench_{number}_{rng.getrandbits(32):08x}"
    if kind == "auto":
        subject = f"Out of office: {subject}"
        extra.append("Auto-Submitted: auto-replied")
        content = 'Content-Type: text/plain; charset="us-ascii"\n\n'
        content += "I am out of the office until Monday and will reply when I return.\n"
    elif kind == "bounce":
        sender = "Mail Delivery System <MAILER-DAEMON@mail.example.net>"
        subject = "Undelivered Mail Returned to Sender"
        content = (
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"'
            f"\n\n--{boundary}\nContent-Type: text/plain\n\n"
            "This is the mail system. Your message could not be delivered.\n"
            f"\n--{boundary}\nContent-Type: message/delivery-status\n\n"
            "Reporting-MTA: dns; mail.example.net\n\nFinal-Recipient: rfc822; x@example.com\n"
            f"Action: failed\nStatus: 5.1.1\n\n--{boundary}--\n"
        )
    elif kind in ("html", "alternative"):
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n"))
        markup = f"<html><head><style>p{{margin:0}}</style></head><body>{paragraphs}</body></html>"
        html_part = (
            'Content-Type: text/html; charset="utf-8"\n'
            f"Content-Transfer-Encoding: quoted-printable\n\n{_qp(markup)}\n"
        )
        if kind == "html":
            content = html_part
        else:
            content = (
                f'Content-Type: multipart/alternative; boundary="{boundary}"\n\n'
                f'--{boundary}\nContent-Type: text/plain; charset="utf-8"\n'
                f"Content-Transfer-Encoding: quoted-printable\n\n{_qp(body)}\n"
                f"--{boundary}\n{html_part}--{boundary}--\n"
            )
    elif kind == "latin":
        text = body + "\n\nCost me \u00a34.50 in fares \u2013 again."
        content = (
            'Content-Type: text/plain; charset="windows-1252"\n'
            f"Content-Transfer-Encoding: quoted-printable\n\n{_qp(text, 'windows-1252')}\n"
        )
    elif kind == "reply":
        quoted = "\n".join("> " + line for line in textgen.we_did(rng, borough).split(". "))
        subject = f"Re: {subject}"
        extra.append(f"In-Reply-To: <reply-{number}@engage.example.org>")
        text = f"{body}\n\nOn {when:%d %b %Y}, Engagement Team <{to}> wrote:\n{quoted}\n"
        content = (
            'Content-Type: text/plain; charset="utf-8"\n'
            f"Content-Transfer-Encoding: quoted-printable\n\n{_qp(text)}\n"
        )
    else:
        content = (
            'Content-Type: text/plain; charset="utf-8"\n'
            f"Content-Transfer-Encoding: quoted-printable\n\n{_qp(body)}\n"
        )
        if kind == "list":
            extra += ["List-Id: Residents forum <forum.lists.example.org>", "Precedence: list"]
        if kind == "attachment":
            pdf = base64.encodebytes(b"%PDF-1.4\n" + rng.randbytes(2048)).decode("ascii")
            content = (
                f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
                f"--{boundary}\n{content}--{boundary}\n"
                f'Content-Type: application/pdf; name="response-{number}.pdf"\n'
                f'Content-Disposition: attachment; filename="response-{number}.pdf"\n'
                f"Content-Transfer-Encoding: base64\n\n{pdf}--{boundary}--\n"
            )
    if not subject.isascii():
        subject = "=?utf-8?q?" + quopri.encodestring(subject.encode(), header=True).decode() + "?="
    headers = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {format_datetime(when.replace(tzinfo=UTC))}",
        f"Message-ID: <{tag}-{number}.{rng.getrandbits(32):08x}@{address.split('@')[1]}>",
        "MIME-Version: 1.0",
        *extra,
    ]
    return "\n".join(headers) + "\n" + content.replace("\r\n", "\n")


def write_mbox(path: Path, messages: int, tag: str, seed: int) -> dict:
    rng = random.Random(f"{seed}-{tag}")
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with path.open("wb") as handle:
        for number in range(messages):
            lines = _message(rng, number, tag).split("\n")
            # mboxrd: a body line starting "From " (or ">From ") gains a ">".
            escaped = [
                ">" + line if line.lstrip(">").startswith("From ") else line for line in lines
            ]
            chunk = (
                "From bench@example.net Mon Jun  3 10:00:00 2019\n"
                + "\n".join(escaped).rstrip("\n")
                + "\n\n"
            ).encode("utf-8")
            handle.write(chunk)
            size += len(chunk)
    return {"file": str(path), "messages": messages, "bytes": size}


# -------------------------------------------------------------------------- cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    model = sub.add_parser("model")
    model.add_argument("--out", required=True)
    data = sub.add_parser("data")
    common.add_where_arguments(data)
    data.add_argument("--items", type=int, default=N_ITEMS)
    data.add_argument("--seed", type=int, default=SEED)
    data.add_argument(
        "--staff-labels",
        type=int,
        default=None,
        help="keep staff review on this many items only (default: as generated, ~30%%)",
    )
    data.add_argument(
        "--copy",
        action="store_true",
        help="on PostgreSQL, load with COPY instead of INSERT (bench growth)",
    )
    mbox = sub.add_parser("mbox")
    mbox.add_argument("--out", required=True)
    mbox.add_argument("--messages", type=int, required=True)
    mbox.add_argument("--tag", default="m")
    mbox.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    if args.command == "model":
        result = make_model(Path(args.out))
        Path(args.out, "bench-model.json").write_text(json.dumps(result))
    elif args.command == "data":
        result = load_data(args)
    else:
        t = time.perf_counter()
        result = write_mbox(Path(args.out), args.messages, args.tag, args.seed)
        result["seconds"] = round(time.perf_counter() - t, 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
