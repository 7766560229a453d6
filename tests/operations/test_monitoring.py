"""What a platform team's Prometheus and log pipeline see: request metrics by route template and status
class, process_* series, gauges that exist at zero, polling access lines at DEBUG, and a failing notice
logged once per backoff step."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import libvirt
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlmodel import Session

from agents.metrics import AgentMetrics, LibvirtCollector, start_metrics_server
from controlplane.cli.logs import configure_logging
from controlplane.clock import FixedClock
from controlplane.notify import LoggingSmsProvider, SmtpSender
from controlplane.notify.messages import NoticeDraft
from controlplane.services.notices import deliver_due_notices, queue_notice
from tests.e2e.stack import free_port
from tests.utils.api import T0, Api
from tests.utils.factories import make_customer

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _requests(route: str, status_class: str, method: str = "GET") -> tuple[str, tuple[tuple[str, str], ...]]:
    labels = {"method": method, "route": route, "status_class": status_class}
    return ("dcloud_http_requests_total", tuple(sorted(labels.items())))


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    saved = {
        name: (lg.level, list(lg.handlers), lg.propagate, lg.disabled)
        for name in ("uvicorn", "uvicorn.access")
        if (lg := logging.getLogger(name))
    }
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, (lvl, hs, propagate, disabled) in saved.items():
        lg = logging.getLogger(name)
        lg.setLevel(lvl)
        lg.handlers, lg.propagate, lg.disabled = hs, propagate, disabled


def test_requests_are_counted_by_route_template_and_status_class(api: Api) -> None:
    api.add_host("hv1")
    for server_id in ("nope-1", "nope-2"):
        assert api.call("GET", f"/v1/servers/{server_id}").status_code == 404
    assert api.call("GET", "/v1/hosts").status_code == 200
    assert api.call("GET", "/v1/hosts", role=None).status_code == 401
    api.client.get("/no/such/thing")

    samples = _parse(api.client.get("/metrics").text)

    assert samples[_requests("/v1/servers/{server_id}", "4xx")] == 2
    assert samples[_requests("/v1/hosts", "2xx")] == 1
    assert samples[_requests("/v1/hosts", "4xx")] == 1
    assert samples[_requests("<unmatched>", "4xx")] == 1
    assert not [k for k in samples if "nope-1" in str(k)]  # raw paths never become labels
    duration = ("dcloud_http_request_duration_seconds_count", (("method", "GET"), ("route", "/v1/hosts")))
    assert samples[duration] == 2


def test_control_plane_metrics_carry_process_series(api: Api) -> None:
    samples = _parse(api.client.get("/metrics").text)
    assert samples[("process_resident_memory_bytes", ())] > 0
    assert ("process_cpu_seconds_total", ()) in samples


def test_state_gauges_exist_at_zero_on_an_empty_store(api: Api) -> None:
    samples = _parse(api.client.get("/metrics").text)
    assert samples[("dcloud_active_blocks", (("kind", "nonpayment"), ("scope", "full")))] == 0
    assert samples[("dcloud_notices_unsent", (("channel", "email"),))] == 0
    assert samples[("dcloud_notices_exhausted", (("kind", "termination"),))] == 0
    assert samples[("dcloud_servers", (("desired", "suspended"), ("observed", "running")))] == 0
    assert samples[("dcloud_contracts", (("state", "restricted"),))] == 0


def test_agent_metrics_carry_process_series() -> None:
    conn = libvirt.open("test:///default")
    server = start_metrics_server(0, LibvirtCollector(lambda: conn), AgentMetrics())
    try:
        text = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10).text
    finally:
        server.shutdown()
        server.server_close()
        conn.close()
    assert _parse(text)[("process_resident_memory_bytes", ())] > 0


def _access_line(path: str) -> None:
    # The record uvicorn's access logger makes: (client, method, path with query, http version, status).
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200
    )


def test_agent_polling_access_lines_are_debug_and_other_requests_info() -> None:
    for name in ("uvicorn", "uvicorn.access"):  # a uvicorn started earlier may have configured them
        logger = logging.getLogger(name)
        logger.setLevel(logging.NOTSET)
        logger.handlers, logger.propagate, logger.disabled = [], True, False
    stream = io.StringIO()
    configure_logging(stream=stream)
    _access_line("/v1/hosts/hv1/desired-state/watch?since=abc&wait_s=25")
    _access_line("/v1/hosts/hv1/heartbeat")
    _access_line("/metrics")
    _access_line("/v1/servers")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and "GET /v1/servers HTTP/1.1" in lines[0] and " INFO " in lines[0]

    stream = io.StringIO()
    configure_logging(stream=stream, levels="uvicorn.access=DEBUG")
    _access_line("/v1/hosts/hv1/heartbeat")
    assert " DEBUG " in stream.getvalue()


def test_every_log_line_carries_time_level_and_logger() -> None:
    stream = io.StringIO()
    configure_logging(stream=stream)
    logging.getLogger("dcloud.test").warning("something")
    time, logger, level, message = stream.getvalue().strip().split(" ", 4)[1:]
    assert (logger, level, message) == ("dcloud.test", "WARNING", "something")
    assert time[2] == ":"  # the date, then HH:MM:SS,mmm


DRAFT = NoticeDraft("approval", "Art. 7(2)", "[D-Cloud] Contract 1 approved", "Service opens 2027-03-02.")


def test_a_notice_that_cannot_be_sent_is_logged_once_per_backoff_step(
    sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FixedClock(T0)
    with Session(sqlite_engine) as session:
        customer = make_customer(session)
        queue_notice(session, customer=customer, contract_id=None, draft=DRAFT, dedupe_key="k", now=clock())
        session.commit()
    sender = SmtpSender(host="127.0.0.1", port=free_port(), sender="n@d.test", timeout_s=2)
    with caplog.at_level(logging.WARNING, logger="controlplane.services.notices"):
        for _minute in range(16):  # the outbox job runs every minute
            deliver_due_notices(sqlite_engine, sender, LoggingSmsProvider(), clock)
            clock.advance(minutes=1)
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 5  # attempts at minutes 0, 1, 3, 7 and 15: backoff 1, 2, 4, 8 minutes
