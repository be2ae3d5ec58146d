"""Benchmark the worker placing new feedback in a grouped theme; print one JSON object.

    python bench/bench_placing.py [--items 4000] [--new 10] [--theme services]

Stores N feedback items of one theme made by bench/textgen.py (seeded; one in ten a
copy of one of five campaign letters, as bench_concerns.py) in a fresh SQLite file,
groups the theme once (``service.refresh``), then ``--rounds`` times adds ``--new``
items and times the worker's ``placing.place_owed``, and within it the describing step
(``placing.describe``): the first round is a worker's first placing in the theme, the
next ones what it costs from then on.
The space is fitted first and timed apart (once per process).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import textgen  # noqa: E402

SEED = 27


def _store(engagement, theme, texts, start: datetime, groups) -> None:
    from engage.extensions import db
    from engage.feedback.models import Channel, FeedbackItem, TagSource, ThemeTag

    for n, (text, group) in enumerate(zip(texts, groups, strict=True)):
        item = FeedbackItem(
            reference=f"B-{start:%m%d%H%M}-{n:06d}",
            engagement_id=engagement.id,
            channel=Channel.WEB,
            submitted_at=start + timedelta(minutes=n),
            text=text,
            redacted_text=text,
            consent_to_quote=n % 3 == 0,
            duplicate_group_id=group,
        )
        item.tags.append(ThemeTag(theme=theme, source=TagSource.MODEL, confidence=0.9))
        db.session.add(item)
    db.session.commit()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=4_000)
    parser.add_argument("--new", type=int, default=10)
    parser.add_argument("--theme", default="services")
    parser.add_argument("--rounds", type=int, default=2, help="placings, one after another")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench-placing-"))
    os.environ.setdefault("ENGAGE_INSTANCE_PATH", str(folder))
    from sqlalchemy import select

    from engage import create_app
    from engage.concerns import discovery, placing, service
    from engage.concerns.models import Concern
    from engage.engagements.models import Engagement
    from engage.extensions import db
    from engage.feedback.models import DuplicateGroup, Theme
    from engage.feedback.service import ensure_default_themes

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}", "SECRET_KEY": "bench"}
    )
    rng = random.Random(SEED)
    with app.app_context():
        db.create_all()
        ensure_default_themes()
        engagement = Engagement(
            slug="bench",
            title="Bench",
            summary="",
            body="",
            organisation="NHS Bench",
            opens_on=date(2019, 5, 28),
            closes_on=date(2099, 1, 1),
            areas=["Brent"],
            email_address="bench@example.org",
        )
        db.session.add(engagement)
        theme = db.session.scalar(select(Theme).where(Theme.slug == args.theme))
        letters = [textgen.feedback_text(rng, [args.theme], "Brent") for _ in range(5)]
        groups = [DuplicateGroup(engagement=engagement, sample_text=t) for t in letters]
        db.session.add_all(groups)
        db.session.commit()
        texts, of_group = [], []
        for key in range(args.items):
            if key % 10 == 9:
                texts.append(letters[key % 50 // 10])
                of_group.append(groups[key % 50 // 10].id)
            else:
                borough = textgen.pick(rng, textgen.BOROUGHS_NWL)
                texts.append(textgen.feedback_text(rng, [args.theme], borough))
                of_group.append(None)
        _store(engagement, theme, texts, datetime(2019, 6, 1), of_group)
        started = time.perf_counter()
        discovery.space()
        space_seconds = time.perf_counter() - started
        started = time.perf_counter()
        service.refresh(engagement, theme)
        db.session.commit()
        group_seconds = time.perf_counter() - started
        concerns = db.session.scalars(select(Concern).where(Concern.theme_id == theme.id)).all()

        def stamps() -> dict[int, datetime]:
            return dict(db.session.execute(select(Concern.id, Concern.updated_at)).all())

        def described(before: dict[int, datetime]) -> list[int]:
            return [i for i, at in stamps().items() if before.get(i) != at]

        timings: dict[str, float] = {}
        real_describe = placing.describe

        def timed_describe(*a, **k):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return real_describe(*a, **k)
            finally:
                timings["describe_seconds"] += time.perf_counter() - wall
                timings["describe_cpu_seconds"] += time.process_time() - cpu

        placing.describe = timed_describe
        rounds = []
        engagement_id, theme_id = engagement.id, theme.id
        for number in range(args.rounds):
            new = [
                textgen.feedback_text(rng, [args.theme], textgen.pick(rng, textgen.BOROUGHS_NWL))
                for _ in range(args.new)
            ]
            start = datetime(2019, 9, 1) + timedelta(days=number)
            engagement = db.session.get(Engagement, engagement_id)
            theme = db.session.get(Theme, theme_id)
            _store(engagement, theme, new, start, [None] * len(new))
            before = stamps()
            db.session.remove()
            timings.update(describe_seconds=0.0, describe_cpu_seconds=0.0)
            wall, cpu = time.perf_counter(), time.process_time()
            placed = placing.place_owed()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            rounds.append(
                {
                    "placed": placed,
                    "concerns_rewritten": len(described(before)),
                    "place_seconds": round(wall, 2),
                    "place_cpu_seconds": round(cpu, 2),
                    **{k: round(v, 2) for k, v in timings.items()},
                }
            )
        placing.describe = real_describe
        result = {
            "items": args.items,
            "new": args.new,
            "theme": args.theme,
            "concerns": len(concerns),
            "space_fit_seconds": round(space_seconds, 2),
            "first_grouping_seconds": round(group_seconds, 2),
            "rounds": rounds,
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
