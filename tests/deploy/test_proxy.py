"""The buffering proxy in front of the HTTP services: nginx in compose, an ingress in
Kubernetes. Each must front every HTTP service, buffer requests whole and bound the time a
client may take over its request's head and body (docs/security.md, "Slow clients")."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy import checks
from tests.deploy.checks import DEPLOY, SERVICES, by_kind

NGINX_CONF = DEPLOY / "compose" / "nginx.conf"
INGRESS_PREFIX = "nginx.ingress.kubernetes.io/"


def nginx_settings(text: str) -> dict[str, str]:
    """Top-level-looking `name value;` directives of an nginx configuration (comments out)."""
    text = re.sub(r"#[^\n]*", "", text)
    return {m[1]: m[2].strip() for m in re.finditer(r"(?m)^\s*([a-z_]+)\s+([^;{}]+);", text)}


def seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(s|m)?", value).groups()  # type: ignore[union-attr]
    return float(number) * (60 if unit == "m" else 1)


def test_compose_proxy_fronts_every_http_service_with_timeouts() -> None:
    model, problems = checks.load_compose()
    assert problems == []
    proxy = model["services"]["proxy"]
    assert any("nginx.conf:/etc/nginx/nginx.conf" in str(v) for v in proxy["volumes"])
    text = NGINX_CONF.read_text()
    settings = nginx_settings(text)
    for name in ("client_header_timeout", "client_body_timeout"):
        assert seconds(settings[name]) <= 30, name
    assert settings["proxy_request_buffering"] == "on"
    assert settings["client_max_body_size"] == "64k"
    for service in SERVICES:
        port = checks.service_port(service, checks.compose_env(model["services"][service]))
        assert f"proxy_pass http://{service}:{port};" in text, service
        published = [str(p) for p in model["services"][service].get("ports", [])]
        assert published == [f"127.0.0.1:{port}:{port}"], (
            f"{service} must be reached through the proxy, not published to every address")


@pytest.mark.parametrize("overlay", sorted(checks.OVERLAYS))
def test_ingress_fronts_every_http_service_with_buffering(overlay: str) -> None:
    docs = checks.render(overlay)
    ingresses = by_kind(docs, "Ingress")
    assert ingresses, "no Ingress"
    services = by_kind(docs, "Service")
    backends = set()
    for ingress in ingresses.values():
        notes = ingress["metadata"].get("annotations", {})
        assert notes.get(INGRESS_PREFIX + "proxy-request-buffering") == "on"
        assert notes.get(INGRESS_PREFIX + "proxy-body-size") == "64k"
        assert int(notes.get(INGRESS_PREFIX + "proxy-read-timeout", "60")) > 30
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] in services, backend
                backends.add(backend["name"])
    assert backends == {services[s]["metadata"]["name"] for s in SERVICES}


def nginx() -> str:
    """nginx's path; the test fails, never skips, without it (`make test` installs it)."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                       else None)
    if found is None:
        pytest.fail("nginx is missing: run tests/ensure_packages.sh as root (`make test` does)")
    return found


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    exe = nginx()
    text = NGINX_CONF.read_text()
    for service in SERVICES:  # compose's service names do not resolve here
        text = text.replace(f"http://{service}:", "http://127.0.0.1:")
    conf = tmp_path / "nginx.conf"
    conf.write_text(text.replace("http {", f"pid {tmp_path / 'nginx.pid'};\n"
                                 f"error_log {tmp_path / 'error.log'};\nhttp {{", 1))
    done = subprocess.run([exe, "-t", "-c", str(conf), "-p", str(tmp_path)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
