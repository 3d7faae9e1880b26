"""Home tiles: only the services the user's roles allow, and only those answering /healthz."""

import http.server
import re
import socket

import pytest
from servicekit.testing import LoopbackServer

from portal import create_app


class HealthServer(LoopbackServer):
    """A loopback service answering /healthz with a chosen status."""

    def __init__(self, status=200):
        self.status = status
        self.checks = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.checks += 1
                self.send_response(server.status if self.path == "/healthz" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(Handler)


@pytest.fixture
def platform(settings, monkeypatch, database):
    """Directory, messaging and telemedicine up, records-bridge failing, oncology-rcp down."""
    with (
        HealthServer() as directory,
        HealthServer() as messaging,
        HealthServer() as stroke,
        HealthServer(status=503) as records,
        socket.socket() as stopped,
    ):
        # A port held but not listening refuses connections, and nothing else can take it.
        stopped.bind(("127.0.0.1", 0))
        monkeypatch.setenv("DIRECTORY_URL", directory.url)
        monkeypatch.setenv("SECURE_MESSAGING_URL", messaging.url)
        monkeypatch.setenv("TELEMEDICINE_URL", stroke.url)
        monkeypatch.setenv("RECORDS_BRIDGE_URL", records.url)
        monkeypatch.setenv("ONCOLOGY_RCP_URL", f"http://127.0.0.1:{stopped.getsockname()[1]}")
        # A loaded test machine may take longer than production's half second to answer.
        app = create_app({"TESTING": True, "HEALTH_CHECK_TIMEOUT": 5})
        database.migrate(app)
        yield app, directory
        database.empty(app)


def _tiles(client):
    return re.findall(r'data-service="([a-z-]+)"', client.get("/").get_data(as_text=True))


def test_it_shows_a_gp_the_running_services_for_clinicians(platform, personas_of):
    app, _directory = platform
    gp = app.test_client()
    personas_of(app).login(gp, "gp-1", ["clinician"])
    assert _tiles(gp) == ["annuaire", "messagerie"]


def test_it_shows_a_neurologist_the_stroke_service(platform, personas_of):
    app, _directory = platform
    neurologist = app.test_client()
    personas_of(app).login(neurologist, "neuro-1", ["clinician", "stroke-neurologist"])
    assert _tiles(neurologist) == ["annuaire", "tele-avc", "messagerie"]


def test_it_hides_a_service_that_is_down_even_when_the_roles_allow_it(platform, personas_of):
    app, _directory = platform
    oncologist = app.test_client()
    personas_of(app).login(oncologist, "onco-1", ["rcp-coordinator"])
    assert "rcp" not in _tiles(oncologist)
    assert _tiles(oncologist) == ["annuaire", "messagerie"]


def test_it_shows_the_administration_to_a_platform_admin_only(platform, personas_of):
    app, _directory = platform
    gcs_admin, gp = app.test_client(), app.test_client()
    personas = personas_of(app)
    personas.login(gcs_admin, "admin-1", ["platform-admin"])
    personas.login(gp, "gp-1", ["clinician"])
    assert _tiles(gcs_admin) == ["administration"]
    assert "administration" not in _tiles(gp)
    assert gp.get("/admin/comptes").status_code == 403


def test_it_checks_health_once_per_cache_period(platform, personas_of):
    app, directory = platform
    gp = app.test_client()
    personas_of(app).login(gp, "gp-1", ["clinician"])
    _tiles(gp)
    _tiles(gp)
    assert directory.checks == 1


def test_it_does_not_open_a_service_page_the_roles_do_not_allow(platform, personas_of):
    app, _directory = platform
    gp = app.test_client()
    personas_of(app).login(gp, "gp-1", ["clinician"])
    assert gp.get("/services/tele-avc").status_code == 404
    opened = gp.get("/services/annuaire")
    assert opened.status_code == 302 and opened.headers["Location"] == "/annuaire"
