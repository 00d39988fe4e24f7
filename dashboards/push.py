"""Upload dashboards to Grafana through grafana-client: into a folder, overwriting, TLS verified.

The token is sent only in the ``Authorization`` header; it is never logged,
written, or put in an error message.
"""

from __future__ import annotations

import logging
import urllib.parse
from pathlib import Path
from typing import Any

__all__ = ["PushError", "push"]

log = logging.getLogger(__name__)
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class PushError(RuntimeError):
    """Grafana refused or could not be reached; the message names the call, never the token."""


def _redact(text: str, token: str) -> str:
    return text.replace(token, "<token>") if token else text


def _client(url: str, token: str, ca: Path | None) -> tuple[Any, str]:
    from grafana_client.api import GrafanaApi
    from grafana_client.client import TokenAuth

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise PushError(f"grafana url={url!r}: must be https://host[:port][/path]")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise PushError(f"grafana url={url!r}: must use https (plain http only to a loopback address)")
    if ca is not None and not Path(ca).is_file():
        raise PushError(f"grafana ca={str(ca)!r}: no such file")
    prefix = parts.path.strip("/")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    api = GrafanaApi(
        auth=TokenAuth(token),  # type: ignore[no-untyped-call]
        host=host,
        port=parts.port,
        url_path_prefix=f"{prefix}/" if prefix else "",
        protocol=parts.scheme,
        verify=str(ca) if ca is not None else True,
        timeout=30.0,
    )
    base = f"{parts.scheme}://{parts.netloc}" + (f"/{prefix}" if prefix else "")
    return api, base


def _call(what: str, token: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    from grafana_client.client import GrafanaException

    try:
        return fn(*args, **kwargs)
    except GrafanaException as e:
        status = f"HTTP {e.status_code}" if e.status_code else "request failed"
        said = e.response.get("message") if isinstance(e.response, dict) else None
        hint = " (check the token and its permissions)" if e.status_code in (401, 403) else ""
        raise PushError(_redact(f"grafana {what}: {status}: {said or e.message}{hint}", token)) from None
    except OSError as e:  # niquests' connection and TLS errors are OSErrors
        raise PushError(_redact(f"grafana {what}: {type(e).__name__}: {e}", token)) from None


def push(
    dashboards: list[dict[str, Any]],
    url: str,
    token: str,
    folder: str = "Resilience",
    ca: Path | None = None,
) -> list[str]:
    """Upload ``dashboards`` into ``folder`` (created if missing), overwriting; their Grafana URLs.

    ``token`` is a Grafana service-account token; ``ca`` a PEM bundle to trust
    instead of the system's (certificates are always verified).
    """
    if not token or not token.isprintable() or token != token.strip():
        raise PushError("grafana token: must be a non-empty printable string without surrounding spaces")
    if not folder.strip():
        raise PushError("grafana folder='': must not be empty")
    api, base = _client(url, token, ca)
    found = _call("GET /api/folders", token, api.folder.get_all_folders)
    match = [f for f in found or [] if isinstance(f, dict) and f.get("title") == folder]
    if match:
        folder_uid = str(match[0]["uid"])
    else:
        created = _call("POST /api/folders", token, api.folder.create_folder, folder)
        folder_uid = str(created["uid"])
        log.info("created Grafana folder %r (uid %s)", folder, folder_uid)
    urls = []
    for dashboard in dashboards:
        payload = {
            "dashboard": {**dashboard, "id": None},
            "folderUid": folder_uid,
            "overwrite": True,
            "message": "exported by rwb",
        }
        uid = dashboard.get("uid", "")
        answer = _call(f"POST /api/dashboards/db (uid {uid})", token, api.dashboard.update_dashboard, payload)
        path = answer.get("url") if isinstance(answer, dict) else None
        urls.append(f"{base}{path}" if path else f"{base}/d/{uid}")
        log.info("pushed dashboard %s to folder %r", uid, folder)
    return urls
