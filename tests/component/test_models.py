"""The demo models train deterministically and reach the accuracy the issue asks for."""

import torch

from models import cancer, digits


def test_cancer_training_is_seeded_and_accurate() -> None:
    first, metadata = cancer.build()
    second, _ = cancer.build()
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name
    assert metadata["accuracy"]["held_out"] >= 0.95, metadata["accuracy"]
    assert len(metadata["input"]["features"]) == 30


def test_cancer_scaling_travels_in_the_state_dict() -> None:
    model, _ = cancer.build()
    state = model.state_dict()
    assert {"mean", "scale"} <= set(state)
    assert float(state["scale"].min()) > 0 and float(state["mean"].abs().sum()) > 0


def test_digits_reach_97_percent_on_held_out_scans() -> None:
    _, metadata = digits.build()
    assert metadata["accuracy"]["held_out"] >= 0.97, metadata["accuracy"]
    assert metadata["labels"] == [str(d) for d in range(10)]
