"""Open311 GeoReport v2 with an existing client library (georeport, from PyPI)
against the service running on a loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from georeport import GeoReport

from api.app import create_app
from tests.http.support import Api
from tests.support import RESIDENT, WORKER, P


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live(store_url: str) -> Iterator[tuple[str, Api]]:
    a = Api(store_url)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(a.container.services()), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/open311/v2", a
    server.should_exit = True
    thread.join(5)
    a.close()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_client_library_lists_services_posts_and_reads_requests(live, fmt: str) -> None:
    root, a = live
    client = GeoReport(root, api_key=a.token(RESIDENT), output_format=fmt)
    services = client.get_service_list()
    assert {s["service_code"] for s in services} == {"sanitation", "road"}
    assert client.get_service_definition("road")["service_code"] == "road"

    # The specification: a form-encoded POST to requests.{fmt} with api_key.
    posted = httpx.post(
        f"{root}/requests.{fmt}",
        data={
            "api_key": a.token(RESIDENT),
            "service_code": "road",
            "lat": "37.505",
            "long": "122.105",
            "description": "Pothole by the school",
            "first_name": "Wang",
            "phone": "13800000000",
        },
    )
    assert posted.status_code == 200, posted.text
    if fmt == "json":
        request_id = posted.json()[0]["service_request_id"]
    else:
        import xmltodict

        request_id = xmltodict.parse(posted.text)["service_requests"]["request"][
            "service_request_id"
        ]

    one = client.get_service_request(request_id)
    assert one["status"] == "open" and one["service_code"] == "road"
    assert one["description"] == "Pothole by the school"
    assert one["expected_datetime"]  # the triage deadline, until a tier starts its own
    assert "13800000000" not in str(one)  # personal data is never published
    # Lists come from the views, which follow the log a moment behind.
    a.container.views.wait_for(a.container.service.head(), timeout=30)
    listed = client.get_service_requests(status="open")
    listed = listed if isinstance(listed, list) else [listed]
    assert request_id in [r["service_request_id"] for r in listed]

    issue = a.client.get(f"/issues/{request_id}", headers=a.h(WORKER)).json()
    assert issue["channel"] == "open311" and issue["grid_id"] == "g1"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_errors_use_the_georeport_format(live, fmt: str) -> None:
    root, a = live
    bad_key = httpx.post(f"{root}/requests.{fmt}", data={"api_key": "nope", "service_code": "road"})
    assert bad_key.status_code == 403
    missing = httpx.post(
        f"{root}/requests.{fmt}",
        data={"api_key": a.token(RESIDENT), "lat": "37.505", "long": "122.105"},
    )
    assert missing.status_code == 400
    worker = httpx.post(
        f"{root}/requests.{fmt}", data={"api_key": a.token(WORKER), "service_code": "road"}
    )
    assert worker.status_code == 403
    unknown = httpx.get(f"{root}/requests/not-an-id.{fmt}")
    assert unknown.status_code == 404
    if fmt == "json":
        assert missing.json() == [{"code": 400, "description": "service_code is required"}]
    else:
        assert "<errors><error><code>400</code>" in missing.text
    _ = P
