"""The settings module's defaults agree with the files that repeat them for other tools, and
its two helpers (free ports, KEY=VALUE options) do what every entry point relies on."""

from __future__ import annotations

import argparse
import socket
import tomllib

import pytest

from server import settings
from server.launcher import read_properties


def test_config_properties_listens_where_the_settings_say() -> None:
    props = read_properties(settings.CONFIG.read_text())
    assert (
        props["inference_address"],
        props["management_address"],
        props["metrics_address"],
    ) == (settings.INFERENCE_URL, settings.MANAGEMENT_URL, settings.METRICS_URL)


def test_locust_conf_aims_at_the_default_urls() -> None:
    # locust.conf is key = value lines, a subset of TOML once the values are quoted.
    lines = (settings.ROOT / "loadtests" / "locust.conf").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if "=" in line and not line.startswith("#")]
    conf = tomllib.loads("\n".join(f'"{k.strip()}" = "{v.strip()}"' for k, v in pairs))
    assert (conf["host"], conf["management-host"]) == (
        settings.INFERENCE_URL,
        settings.MANAGEMENT_URL,
    )


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = settings.free_ports(5)
    assert len(set(ports)) == 5, ports
    with socket.socket() as sock:
        sock.bind((settings.HOST, ports[0]))  # released: a server can take it


@pytest.mark.parametrize(
    ("text", "pair"),
    [("a=1", ("a", "1")), (" key = x=y ", ("key", "x=y")), ("empty=", ("empty", ""))],
)
def test_assignment_splits_at_the_first_equals_sign(text: str, pair: tuple[str, str]) -> None:
    assert settings.assignment(text) == pair


@pytest.mark.parametrize("text", ["no-equals", "=value", " =x"])
def test_assignment_without_a_key_is_a_usage_error(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=f"expected KEY=VALUE, got {text!r}"):
        settings.assignment(text)
