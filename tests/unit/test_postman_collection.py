"""The Postman collection leaves the server as the shipped config has it: a request that
scales a model sets the worker range of that model's config/models/<model>.yaml."""

from __future__ import annotations

import yaml

from server.settings import ROOT
from tests.postman_collection import collection, requests_of


def scalings() -> list[tuple[str, dict[str, str]]]:
    """(model, query) of every PUT /models/<model> that sets workers."""
    found = []
    for item in requests_of(collection()):
        url = item["request"]["url"]
        query = {entry["key"]: entry["value"] for entry in url.get("query", [])}
        if item["request"]["method"] == "PUT" and "min_worker" in query:
            found.append((url["path"][1], query))
    return found


def test_scaling_restores_the_configured_workers() -> None:
    assert scalings(), "the collection shows how to scale a model"
    for model, query in scalings():
        config = yaml.safe_load((ROOT / "config" / "models" / f"{model}.yaml").read_text())
        configured = (str(config["minWorkers"]), str(config["maxWorkers"]))
        assert (query["min_worker"], query["max_worker"]) == configured, (model, query)
