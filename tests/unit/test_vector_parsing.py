import pytest

from handlers.errors import InputError, PayloadTooLarge
from handlers.vector_parsing import rows_from_json

ROW = [float(i) for i in range(4)]


@pytest.mark.parametrize(
    "document",
    [{"inputs": ROW}, {"inputs": [ROW]}, ROW, [ROW]],
    ids=["object-row", "object-rows", "bare-row", "bare-rows"],
)
def test_accepted_shapes_give_rows(document: object) -> None:
    assert rows_from_json(document, 4) == [ROW]


def test_several_rows_keep_their_order() -> None:
    rows = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
    assert rows_from_json({"inputs": rows}, 4) == [[float(v) for v in row] for row in rows]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"inputs": ROW[:3]}, "row 0: expected 4 features, got 3"),
        ({"inputs": [ROW, ROW[:2]]}, "row 1: expected 4 features, got 2"),
        ({"inputs": [1, 2, float("nan"), 4]}, "row 0, feature 2: nan is not a finite number"),
        ({"inputs": [1, 2, 3, float("inf")]}, "row 0, feature 3: inf is not a finite number"),
        ({"inputs": [1, 2, 3, 10**400]}, "row 0, feature 3: an integer too large for a float"),
        ({"inputs": [1, "2", 3, 4]}, "row 0, feature 1: expected a number, got str"),
        ({"inputs": [1, True, 3, 4]}, "row 0, feature 1: expected a number, got bool"),
        ({"inputs": []}, '"inputs" is empty'),
        ({"rows": ROW}, 'JSON object must have an "inputs" field'),
        ({"inputs": "1,2,3,4"}, '"inputs" must be a list of 4 numbers or a list of such rows'),
        ([ROW, "x"], "row 1 must be a list of numbers, got str"),
    ],
)
def test_bad_input_is_named(document: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        rows_from_json(document, 4)


def test_too_many_rows_is_payload_too_large() -> None:
    with pytest.raises(PayloadTooLarge, match="too many rows: 3, at most 2 per request"):
        rows_from_json([ROW, ROW, ROW], 4, max_rows=2)


NAMES = ["radius", "texture", "area"]


def test_rows_by_feature_name_keep_the_models_order() -> None:
    row = {"area": 3.0, "radius": 1.0, "texture": 2.0}
    assert rows_from_json({"inputs": row}, NAMES) == [[1.0, 2.0, 3.0]]
    assert rows_from_json({"inputs": [row, row]}, NAMES) == [[1.0, 2.0, 3.0]] * 2
    assert rows_from_json({"inputs": [[4, 5, 6], row]}, NAMES) == [[4.0, 5.0, 6.0], [1.0, 2.0, 3.0]]


def test_rows_by_name_must_name_every_feature_and_no_other() -> None:
    with pytest.raises(InputError, match=r"row 0: .* missing \['area'\], unknown \['colour'\]"):
        rows_from_json({"inputs": {"radius": 1, "texture": 2, "colour": 3}}, NAMES)
    with pytest.raises(InputError, match="must be a list of 3 numbers"):
        rows_from_json({"inputs": {"radius": 1}}, 3)  # names unknown: no rows by name
