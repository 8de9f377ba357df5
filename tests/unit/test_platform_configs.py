"""The checked-in platform configs (deploy/paas/) agree with the image: its port, the
door's health paths, and the secret that holds the API keys."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import yaml

from server.settings import (
    API_KEYS_ENV,
    API_KEYS_SECRET,
    DOOR_CONFIG,
    HEALTH_LIVE_PATH,
    HEALTH_READY_PATH,
    INFERENCE_PORT,
    PORT_ENV,
    ROOT,
)

PAAS = ROOT / "deploy" / "paas"


def dockerfile_port() -> int:
    """The port the image EXPOSEs (the door's default PORT)."""
    exposed = re.findall(r"(?m)^EXPOSE (\d+)$", (ROOT / "Dockerfile").read_text())
    assert exposed, "the Dockerfile EXPOSEs no port"
    return int(exposed[0])


def test_the_door_serves_the_health_paths_the_platforms_probe() -> None:
    config = DOOR_CONFIG.read_text()
    assert f"acl health_path path {HEALTH_LIVE_PATH} {HEALTH_READY_PATH}" in config
    assert dockerfile_port() == INFERENCE_PORT


def test_cloud_run() -> None:
    service: Any = yaml.safe_load((PAAS / "cloudrun.yaml").read_text())
    container = service["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"][0]["containerPort"] == dockerfile_port()
    assert container["startupProbe"]["httpGet"]["path"] == HEALTH_READY_PATH
    assert container["livenessProbe"]["httpGet"]["path"] == HEALTH_LIVE_PATH
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == dockerfile_port()
    keys = next(env for env in container["env"] if env["name"] == API_KEYS_ENV)
    assert keys["valueFrom"]["secretKeyRef"]["name"] == API_KEYS_SECRET


def test_fly() -> None:
    config = tomllib.loads((PAAS / "fly.toml").read_text())
    service = config["http_service"]
    assert service["internal_port"] == int(config["env"][PORT_ENV]) == dockerfile_port()
    assert [check["path"] for check in service["checks"]] == [HEALTH_READY_PATH]
    assert (PAAS / config["build"]["dockerfile"]).resolve() == ROOT / "Dockerfile"
    assert f"fly secrets set {API_KEYS_ENV}=" in (PAAS / "fly.toml").read_text()


def test_render() -> None:
    blueprint: Any = yaml.safe_load((PAAS / "render.yaml").read_text())
    service = blueprint["services"][0]
    assert service["healthCheckPath"] == HEALTH_READY_PATH
    assert (ROOT / service["dockerfilePath"]).is_file()
    env = {item["key"]: item for item in service["envVars"]}
    assert env[PORT_ENV]["value"] == str(dockerfile_port())
    assert env[API_KEYS_ENV] == {"key": API_KEYS_ENV, "sync": False}  # a secret, asked at launch


def test_heroku_style() -> None:
    text = (PAAS / "heroku.yml").read_text()
    manifest: Any = yaml.safe_load(text)
    assert (ROOT / manifest["build"]["docker"]["web"]).is_file()
    assert f"heroku config:set {API_KEYS_ENV}=" in text


def test_kubernetes_mounts_the_same_secret() -> None:
    """deploy/ (Kubernetes) names the keys' Secret as the platforms do."""
    manifests = "".join(path.read_text() for path in (ROOT / "deploy").rglob("*.yaml"))
    assert f"secretName: {API_KEYS_SECRET}" in manifests
