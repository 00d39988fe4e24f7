"""Pushing dashboards through grafana-client to a loopback HTTPS server that checks every call.

No Grafana server can be installed here, so the server below stands in for
Grafana's HTTP API: it checks method, path, the bearer token and the JSON
body of each call, over TLS with a certificate from a CA made in the test
(openssl CLI). The token must never show in logs, output, files or errors.
"""

from __future__ import annotations

import json
import logging
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from exportkit import config, tool

import dashboards
from dashboards import PushError, push

TOKEN = "glsa_Zq8T0kenThatMustNeverLeak_4f2c9e"


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run([tool("openssl"), *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _ca(directory: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.pem signs server.pem (SAN IP:127.0.0.1); other.pem is an unrelated CA."""
    d = tmp_path_factory.mktemp("certs")
    _ca(d, "ca")
    _ca(d, "other")
    (d / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        encoding="utf-8",
    )
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "server.key",
        "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=d,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d,
    )  # fmt: skip
    return d


@dataclass
class FakeGrafana:
    """The state and call log of the stand-in Grafana API."""

    url: str = ""
    folders: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    handshake_errors: int = 0


@pytest.fixture
def grafana(certs: Path) -> Iterator[FakeGrafana]:
    state = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            state.calls.append((method, self.path, dict(self.headers.items()), body))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                state.refused.append(self.path)
                return self._answer(401, {"message": "invalid API key"})
            if (method, self.path) == ("GET", "/api/folders"):
                return self._answer(200, state.folders)
            if (
                (method, self.path) == ("POST", "/api/folders")
                and isinstance(body, dict)
                and body.get("title")
            ):
                folder = {
                    "id": len(state.folders) + 1,
                    "uid": f"f{len(state.folders) + 1}",
                    "title": body["title"],
                }
                state.folders.append(folder)
                return self._answer(200, folder)
            if (method, self.path) == ("POST", "/api/dashboards/db") and isinstance(body, dict):
                uid = body["dashboard"]["uid"]
                return self._answer(
                    200, {"status": "success", "uid": uid, "url": f"/d/{uid}/x", "version": 1}
                )
            return self._answer(404, {"message": f"no route {method} {self.path}"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            state.handshake_errors += 1

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs / "server.pem", certs / "server.key")
    server = Server(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


MODELS = list(dashboards.build(config()).values())


def _no_leak(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], *roots: Path) -> None:
    out, err = capsys.readouterr()
    assert caplog.records, "no log record was captured: the leak check would be vacuous"
    texts = [out, err, caplog.text, *(r.getMessage() for r in caplog.records)]
    texts += [p.read_text(errors="replace") for root in roots for p in root.rglob("*") if p.is_file()]
    assert not [t for t in texts if TOKEN in t]


def test_push_creates_the_folder_and_overwrites_each_dashboard(
    grafana: FakeGrafana, certs: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    urls = push(MODELS, grafana.url, TOKEN, folder="Resilience", ca=certs / "ca.pem")
    assert urls == [f"{grafana.url}/d/{m['uid']}/x" for m in MODELS]
    assert [(m, p) for m, p, _, _ in grafana.calls] == [
        ("GET", "/api/folders"),
        ("POST", "/api/folders"),
        *[("POST", "/api/dashboards/db")] * len(MODELS),
    ]
    assert grafana.calls[1][3] == {"title": "Resilience"}
    for (_, _, headers, body), model in zip(grafana.calls[2:], MODELS, strict=True):
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert headers["Content-Type"].startswith("application/json")
        assert body["overwrite"] is True and body["folderUid"] == "f1"
        assert body["dashboard"] == {**model, "id": None}
    assert grafana.refused == []
    _no_leak(caplog, capsys, certs)


def test_an_existing_folder_is_reused(grafana: FakeGrafana, certs: Path) -> None:
    grafana.folders.append({"id": 7, "uid": "existing", "title": "Resilience"})
    push(MODELS[:1], grafana.url, TOKEN, ca=certs / "ca.pem")
    assert [(m, p) for m, p, _, _ in grafana.calls] == [
        ("GET", "/api/folders"),
        ("POST", "/api/dashboards/db"),
    ]
    assert grafana.calls[1][3]["folderUid"] == "existing"


@pytest.mark.parametrize("ca", ["other.pem", None], ids=["unknown-ca", "system-trust"])
def test_a_server_certificate_from_an_untrusted_ca_is_refused(
    grafana: FakeGrafana,
    certs: Path,
    ca: str | None,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PushError, match=r"grafana GET /api/folders: .*(SSL|[Cc]ertificate)") as info:
        push(MODELS, grafana.url, TOKEN, ca=None if ca is None else certs / ca)
    assert TOKEN not in str(info.value)
    assert grafana.calls == []  # no request got through the handshake
    logging.getLogger("test").debug("push refused: %s", info.value)
    _no_leak(caplog, capsys, certs)


def test_an_http_error_names_the_call_and_status_but_not_the_token(
    grafana: FakeGrafana, certs: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = TOKEN[::-1]
    with pytest.raises(PushError, match=r"grafana GET /api/folders: HTTP 401: invalid API key") as info:
        push(MODELS, grafana.url, wrong, ca=certs / "ca.pem")
    assert grafana.refused == ["/api/folders"]
    assert wrong not in str(info.value) and TOKEN not in str(info.value)
    logging.getLogger("test").debug("push refused: %s", info.value)
    _no_leak(caplog, capsys, certs)


def test_the_leak_check_finds_a_leaked_token(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Negative control: a token that does reach a log, the output or a file is caught."""
    caplog.set_level(logging.DEBUG)
    for leak in ("log", "out", "file"):
        logging.getLogger("test").debug("harmless")
        if leak == "log":
            logging.getLogger("test").debug("Authorization: Bearer %s", TOKEN)
        elif leak == "out":
            print(TOKEN)
        else:
            (tmp_path / "push.log").write_text(TOKEN, encoding="utf-8")
        with pytest.raises(AssertionError):
            _no_leak(caplog, capsys, tmp_path)
        caplog.clear()
        (tmp_path / "push.log").unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("url", "token", "message"),
    [
        ("http://grafana.example.com", TOKEN, "must use https"),
        ("ftp://grafana.example.com", TOKEN, "must be https://"),
        ("https://127.0.0.1:1", "", "grafana token: must be a non-empty"),
        ("https://127.0.0.1:1", TOKEN + "\n", "grafana token: must be a non-empty"),
    ],
)
def test_bad_arguments_are_refused_before_any_call(url: str, token: str, message: str) -> None:
    with pytest.raises(PushError, match=message) as info:
        push(MODELS, url, token)
    assert TOKEN not in str(info.value)


def test_a_missing_ca_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PushError, match=r"grafana ca='.*nope.pem': no such file"):
        push(MODELS, "https://127.0.0.1:1", TOKEN, ca=tmp_path / "nope.pem")
