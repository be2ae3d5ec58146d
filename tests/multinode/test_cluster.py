"""Several of everything (issue #26): nginx, two web nodes, two workers, one PostgreSQL,
Redis and a real SMTP server, each a process of its own (see conftest.py).

The tests run in file order on one cluster: the posting test first; the checks that do
not wait for the workers next; killing a worker mid-batch (and starting it again, as
systemd would); then what the workers did.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from mailbox import mbox
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engage.feedback.models import Channel, FeedbackItem, ThemeTag
from engage.outbox.models import OutboxMessage, OutboxStatus
from tests.deployment import BIN, ROOT, request, start_worker, wait_answering, wait_until
from tests.multinode.conftest import (
    IMAP_MESSAGES,
    METRICS_TOKEN,
    SLUG,
    Browser,
    csrf_token,
    wait_for_quiet,
)

pytestmark = pytest.mark.slow

API_ITEMS = 500
PER_REQUEST = 5
MAILS = 40
KILL_BATCH = 300
# The worker's every-minute sweep sends the outbox; allow two of them.
SWEEP = 150


def _api_payload(start: int, count: int, tag: str) -> list[dict]:
    return [
        {
            "text": f"{tag} item {n}: the merger will take decisions about Harrow elsewhere.",
            "engagement": SLUG,
            "email": f"{tag}-{n}@example.net",
            "area": "Harrow",
        }
        for n in range(start, start + count)
    ]


def _post(cluster, token: str, payload: list[dict]) -> tuple[int, str, dict]:
    status, headers, body = cluster.https(
        "POST",
        "/api/v1/feedback",
        body=json.dumps(payload).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Host": "localhost",
        },
    )
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {"not json": body[:500].decode("utf-8", "replace")}
    return status, headers.get("X-Request-ID", ""), answer


def _mailbox(path: Path) -> None:
    box = mbox(str(path))
    for n in range(MAILS):
        message = EmailMessage()
        message["From"] = f"Resident {n} <mail-{n}@example.com>"
        message["To"] = f"engage+{SLUG}@example.org"
        message["Subject"] = f"My views on the case for change ({n})"
        message["Message-ID"] = make_msgid(idstring=f"multinode{n}", domain="example.com")
        message["Date"] = format_datetime(datetime.now().astimezone())
        message.set_content(f"Mail {n}: please keep the walk-in centre in Harrow open.")
        box.add(message)
    box.flush()
    box.close()


def _expected_recipients(cluster) -> set[str]:
    return {
        email
        for (email,) in cluster.rows(
            select(FeedbackItem.author_email).where(FeedbackItem.author_email.is_not(None))
        )
    }


def test_items_posted_through_nginx_are_stored_once_across_both_nodes(cluster):
    """500 items through nginx, in 100 requests from two partners, while a mailbox is
    imported: each stored once, and both nodes took a share."""
    box = cluster.folder / "inbox.mbox"
    _mailbox(box)
    importer = subprocess.Popen(
        [str(BIN / "engage"), "import-mail", "--json", str(box)],
        cwd=ROOT,
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    jobs = [
        (cluster.tokens[n % 2], _api_payload(n * PER_REQUEST, PER_REQUEST, "api"))
        for n in range(API_ITEMS // PER_REQUEST)
    ]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda job: _post(cluster, *job), jobs))
    cluster.notes["posted_in"] = time.monotonic() - started
    out, err = importer.communicate(timeout=120)
    assert importer.returncode == 0, err
    # Its log: the import hands what it stored to the worker (test_metrics_on_each_node).
    cluster.notes["import_log"] = err
    imported = json.loads(out)
    assert imported["imported"] == MAILS, imported

    assert [status for status, _, _ in results] == [201] * len(jobs)
    references = [item["reference"] for _, _, body in results for item in body["items"]]
    assert len(references) == API_ITEMS == len(set(references))
    # nginx spread the requests over both nodes: each request id is in one node's log.
    served = Counter()
    for _, request_id, _ in results:
        nodes = cluster.node_serving(request_id)
        assert len(nodes) == 1, (request_id, nodes)
        served[nodes[0]] += 1
    assert set(served) == set(cluster.node_ports) and min(served.values()) >= 20, served

    api = cluster.count(FeedbackItem, FeedbackItem.channel == Channel.API)
    mail = cluster.count(FeedbackItem, FeedbackItem.channel == Channel.IMPORT)
    assert (api, mail) == (API_ITEMS, MAILS)
    texts = cluster.rows(
        select(FeedbackItem.text, func.count()).group_by(FeedbackItem.text).having(func.count() > 1)
    )
    assert texts == []
    # Importing the same mailbox again stores nothing new.
    again = subprocess.run(
        [str(BIN / "engage"), "import-mail", "--json", str(box)],
        cwd=ROOT,
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(again.stdout)["imported"] == 0
    posted = FeedbackItem.channel.in_([Channel.API, Channel.IMPORT])
    assert cluster.count(FeedbackItem, posted) == API_ITEMS + MAILS


def test_a_response_published_on_one_node_shows_on_the_other(cluster):
    first, second = cluster.node_ports
    wording = "Harrow keeps a borough committee that meets in public, every month."
    reader = Browser(cluster)
    for _ in range(4):  # both of the second node's processes keep the page
        status, _, page = reader.node(second, "GET", "/you-said-we-did")
        assert status == 200 and wording not in page

    publisher = Browser(cluster)
    publisher.sign_in(first, cluster.publisher_email, cluster.totp_secret)
    path = f"/staff/responses/{cluster.response_id}"
    status, _, editor = publisher.node(first, "GET", path)
    assert status == 200, editor[:300]
    status, headers, _ = publisher.node(
        first, "POST", f"{path}/publish", form={"csrf_token": csrf_token(editor)}
    )
    published = time.monotonic()
    assert status == 302

    def everywhere() -> bool:
        return all(wording in reader.node(second, "GET", "/you-said-we-did")[2] for _ in range(4))

    wait_until(everywhere, cluster.page_version_max_age + 5, "the response on the other node")
    elapsed = time.monotonic() - published
    # Within ENGAGE_PAGE_VERSION_MAX_AGE, plus what four page loads take.
    assert elapsed <= cluster.page_version_max_age + 1.5, elapsed


def test_the_form_limit_is_shared_by_both_nodes_per_forwarded_address(cluster):
    """10 posts a minute per client address, counted in Redis whichever node answers;
    the address is the one nginx saw, so another client is not held up and a client
    cannot slip past by sending its own X-Forwarded-For."""
    resident = Browser(cluster, source="127.0.0.2")
    status, _, page = resident.nginx("GET", f"/engagements/{SLUG}")
    assert status == 200
    token = csrf_token(page)
    statuses, nodes = [], Counter()
    for _ in range(11):
        status, headers, _ = resident.nginx(
            "POST", f"/engagements/{SLUG}/feedback", form={"csrf_token": token, "text": ""}
        )
        statuses.append(status)
        for port in cluster.node_serving(headers["X-Request-ID"]):
            nodes[port] += 1
    assert 429 not in statuses[:10] and statuses[10] == 429, statuses
    assert set(nodes) == set(cluster.node_ports), nodes  # both nodes counted
    forged = resident.nginx(
        "POST",
        f"/engagements/{SLUG}/feedback",
        form={"csrf_token": token, "text": ""},
        headers={"X-Forwarded-For": "198.51.100.77"},
    )
    assert forged[0] == 429
    neighbour = Browser(cluster, source="127.0.0.3")
    _, _, page = neighbour.nginx("GET", f"/engagements/{SLUG}")
    answer = neighbour.nginx(
        "POST",
        f"/engagements/{SLUG}/feedback",
        form={"csrf_token": csrf_token(page), "text": ""},
    )
    assert answer[0] != 429


def test_signing_out_on_one_node_ends_the_session_on_the_other(cluster):
    first, second = cluster.node_ports
    staff = Browser(cluster)
    staff.sign_in(first, cluster.publisher_email, cluster.totp_secret)
    status, _, inbox = staff.node(second, "GET", "/staff/inbox")
    assert status == 200 and "Sign out" in inbox
    held = dict(staff.cookies)  # what the browser holds while signed in
    token = {"csrf_token": csrf_token(inbox)}
    status, _, _ = staff.node(first, "POST", "/staff/sign-out", form=token)
    assert status == 302
    # The cookies held before signing out, replayed on the other node.
    replay = Browser(cluster)
    replay.cookies = held
    status, headers, _ = replay.node(second, "GET", "/staff/inbox")
    assert status == 302 and "/staff/sign-in" in headers["Location"]


def test_nginx_serves_static_files_and_hides_operations_endpoints(cluster):
    status, _, page = cluster.https("GET", f"/engagements/{SLUG}", headers={"Host": "localhost"})
    assert status == 200
    css = next(
        line.split('href="', 1)[1].split('"', 1)[0]
        for line in page.decode().splitlines()
        if "css/engage.css" in line
    )
    assert "?v=" in css
    status, headers, body = cluster.https("GET", css, headers={"Host": "localhost"})
    assert status == 200 and body == (ROOT / "static/css/engage.css").read_bytes()
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "X-Request-ID" not in headers  # nginx answered, not a node
    for path in ("/readyz", "/metrics"):
        assert cluster.https("GET", path, headers={"Host": "localhost"})[0] == 404
    # Too large a body is refused by nginx (client_max_body_size = MAX_CONTENT_LENGTH).
    status, _, _ = cluster.https(
        "POST",
        "/api/v1/feedback",
        body=b"x" * (12 * 1024 * 1024 + 1),
        headers={"Host": "localhost", "Content-Type": "application/json"},
    )
    assert status == 413


def _unfinished(cluster) -> tuple[int, int, int]:
    return (
        cluster.count(FeedbackItem, FeedbackItem.classified_at.is_(None)),
        cluster.count(FeedbackItem, FeedbackItem.ack_pending.is_(True)),
        cluster.count(
            OutboxMessage,
            OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
        ),
    )


def _worker_errors(cluster) -> list[str]:
    return [
        f"{line.get('logger')}: {line.get('message')} {line.get('exception', '')[-300:]}"
        for worker in cluster.workers
        for line in cluster.json_lines(worker)
        if line.get("level") in {"ERROR", "CRITICAL"} or "UniqueViolation" in str(line)
    ]


def test_killing_a_worker_mid_batch_loses_nothing(cluster):
    offsets = {w.name: len(w.output()) for w in cluster.workers}
    answers = [
        _post(cluster, cluster.tokens[n % 2], _api_payload(n * 100, 100, "kill")) for n in range(3)
    ]
    assert [status for status, _, _ in answers] == [201] * 3, answers

    def running():
        for worker in cluster.workers:
            fresh = worker.output()[offsets[worker.name] :]
            if '"message": "running task process_new_feedback"' in fresh:
                return worker
        return None

    wait_until(lambda: running() is not None, 30, "a worker to take the new batch")
    victim = running()
    victim.kill()  # SIGKILL, mid-batch: its transaction is never committed
    kill_texts = FeedbackItem.text.like("kill item %")
    # It was cut short: the batch was not done when it died.
    assert cluster.count(FeedbackItem, kill_texts, FeedbackItem.classified_at.is_(None)) > 0
    survivors = [w for w in cluster.workers if w is not victim]
    assert all(w.alive() for w in survivors)
    # systemd starts it again (Restart=on-failure): two workers again for what follows.
    index = cluster.workers.index(victim)
    port = cluster.worker_metrics[index]
    env = {**cluster.env, "ENGAGE_WORKER_METRICS_PORT": str(port)}
    cluster.workers[index] = start_worker(victim.name.split()[-1], env, cluster.folder)
    cluster.started.append(cluster.workers[index])
    # Started again, as systemd would see it: taking jobs and serving its metrics (the
    # metrics test below reads them, and a busy machine takes seconds to load the model).
    wait_answering(port, cluster.workers[index], "/metrics")
    wait_for_quiet(
        lambda: (
            _unfinished(cluster) == (0, 0, 0)
            and cluster.count(FeedbackItem, kill_texts, FeedbackItem.classified_at.is_(None)) == 0
        ),
        SWEEP,
        "the surviving worker to finish the batch",
    )
    assert cluster.count(FeedbackItem, kill_texts) == KILL_BATCH
    # Nothing lost: every item of the batch was acknowledged by the worker left.
    sent = _acknowledgements(cluster)
    killed = {f"kill-{n}@example.net" for n in range(KILL_BATCH)}
    assert {a for a in sent if a.startswith("kill-")} == killed
    cluster.notes["killed"] = killed


def test_killing_a_worker_mid_batch_duplicates_nothing(cluster):
    killed = cluster.notes.get("killed")
    assert killed, "the kill test did not run"
    sent = _acknowledgements(cluster)
    assert [a for a in killed if sent[a] != 1] == []


def test_every_item_is_classified(cluster):
    wait_for_quiet(lambda: _unfinished(cluster)[0] == 0, SWEEP, "every item to be classified")
    # One model tag per item, theme and source (the table's unique key would refuse a
    # second) and each classified item has the model version it was classified by.
    duplicates = cluster.rows(
        select(ThemeTag.item_id, ThemeTag.theme_id, ThemeTag.source, func.count())
        .group_by(ThemeTag.item_id, ThemeTag.theme_id, ThemeTag.source)
        .having(func.count() > 1)
    )
    assert duplicates == []
    assert cluster.count(FeedbackItem, FeedbackItem.model_version.is_(None)) == 0


def test_no_two_workers_classify_the_same_item(cluster):
    """Classified once: no worker's classification met another's rows and failed."""
    wait_for_quiet(lambda: _unfinished(cluster)[0] == 0, SWEEP, "every item to be classified")
    collisions = [e for e in _worker_errors(cluster) if "classif" in e.lower() or "theme_tag" in e]
    assert collisions == []


def test_two_workers_polling_one_imap_folder_import_each_message_once(cluster):
    """Both workers fetch the folder in their minute sweeps: every message is stored
    once, none lost, none twice."""
    email = FeedbackItem.channel == Channel.EMAIL
    wait_for_quiet(
        lambda: cluster.count(FeedbackItem, email) >= IMAP_MESSAGES,
        SWEEP,
        "the IMAP messages to be imported",
    )
    time.sleep(2)  # a second fetch still running would add its copies now
    assert cluster.count(FeedbackItem, email) == IMAP_MESSAGES
    texts = {text for (text,) in cluster.rows(select(FeedbackItem.text).where(email))}
    assert len(texts) == IMAP_MESSAGES


def _acknowledgements(cluster) -> Counter:
    """Emails received by each address (only acknowledgements go to residents here)."""
    return Counter(message["To"].addresses[0].addr_spec for message in list(cluster.smtp.messages))


def test_every_item_is_acknowledged_exactly_once(cluster):
    """One email per item at the SMTP server: none lost, none sent twice."""
    wait_for_quiet(lambda: _unfinished(cluster) == (0, 0, 0), SWEEP, "the outbox to be sent")
    expected = _expected_recipients(cluster)
    sent = _acknowledgements(cluster)
    assert len(expected) == API_ITEMS + MAILS + IMAP_MESSAGES + KILL_BATCH
    assert set(sent) == expected, (len(set(sent)), len(expected))
    assert [address for address, n in sent.items() if n != 1] == []
    rows = cluster.rows(
        select(OutboxMessage.recipient, func.count())
        .group_by(OutboxMessage.recipient)
        .having(func.count() > 1)
    )
    assert rows == []


def test_the_outbox_never_sends_one_message_twice(cluster):
    """Each outbox row reaches the SMTP server once (its Message-ID once), whichever
    worker claimed it."""
    wait_for_quiet(lambda: _unfinished(cluster) == (0, 0, 0), SWEEP, "the outbox to be sent")
    received = Counter(message["Message-ID"] for message in list(cluster.smtp.messages))
    assert [mid for mid, n in received.items() if n > 1] == []
    sent = {
        f"<{mid.strip('<>')}>"
        for (mid,) in cluster.rows(
            select(OutboxMessage.message_id).where(OutboxMessage.status == OutboxStatus.SENT)
        )
    }
    assert {f"<{mid.strip('<>')}>" for mid in received} == sent


def test_metrics_on_each_node(cluster):
    for port in cluster.node_ports:
        status, _, body = request(
            port,
            "GET",
            "/metrics",
            headers={"Authorization": f"Bearer {METRICS_TOKEN}", "Host": "127.0.0.1"},
        )
        assert status == 200
        text = body.decode()
        api = float(API_ITEMS + KILL_BATCH)
        assert f'engage_feedback_received_total{{channel="api"}} {api}' in text
        assert f'engage_feedback_received_total{{channel="import"}} {float(MAILS)}' in text
        # Both of the node's processes answered posts: their counts are added up.
        posts = [
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("engage_http_request_duration_seconds_count")
            and 'route="/api/v1/feedback"' in line
            and 'status="201"' in line
        ]
        assert sum(posts) >= 20
    # Each worker times its jobs, served on its own loopback port; its job lines are JSON
    # under the job's own id.
    ran = 0.0
    job_ids: set[str] = set()
    for port, worker in zip(cluster.worker_metrics, cluster.workers, strict=True):
        status, _, body = request(port, "GET", "/metrics")
        assert status == 200
        for line in body.decode().splitlines():
            if line.startswith("engage_worker_task_duration_seconds_count{"):
                assert 'task="' in line and 'outcome="' in line
                ran += float(line.rsplit(" ", 1)[1])
        jobs = [
            line
            for line in cluster.json_lines(worker)
            if line.get("message", "").startswith("task process_new_feedback")
        ]
        job_ids.update(line["request_id"] for line in jobs)
    assert ran >= 1

    # The web nodes logged the tasks they queued under the requests' ids; each job ran
    # under its own task id (or, once tasks pass observability.job_kwargs(), under the
    # id of the request that queued it).
    def queued_by(processes):
        return [
            line
            for process in processes
            for line in cluster.json_lines(process)
            if line.get("message") == "queued task process_new_feedback"
        ]

    by_nodes = queued_by(cluster.nodes)
    assert by_nodes and all(len(line["request_id"]) == 32 for line in by_nodes)
    # Mail fetched over IMAP is handed over by the worker's own sweep; a mailbox given to
    # `engage import-mail` by the importing process, whose log the first test kept.
    imported = [
        json.loads(line)
        for line in cluster.notes.get("import_log", "").splitlines()
        if line.startswith("{")
    ]
    by_import = [
        line for line in imported if line.get("message") == "queued task process_new_feedback"
    ]
    assert by_import, "the import handed nothing to the worker"
    queued = by_nodes + queued_by(cluster.workers) + by_import
    known = {f"task-{line['task_id']}" for line in queued} | {q["request_id"] for q in queued}
    assert job_ids and job_ids <= known, job_ids - known
