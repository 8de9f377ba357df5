import pytest

from handlers.errors import InputError
from handlers.payload import Payload, as_bytes, find_payload, media_type, parse_json


def test_media_type_drops_parameters_and_case() -> None:
    assert media_type("Application/JSON; charset=utf-8") == "application/json"
    assert media_type(None) == ""


def test_raw_body_is_found_with_its_content_type() -> None:
    payload = find_payload({"body": b"abc"}, {"body": "image/png"})
    assert payload == Payload(b"abc", "image/png")


def test_multipart_field_data_is_found() -> None:
    payload = find_payload({"data": bytearray(b"x"), "topk": "3"}, {"data": "image/jpeg"})
    assert payload == Payload(bytearray(b"x"), "image/jpeg")


def test_missing_payload_names_the_accepted_fields() -> None:
    with pytest.raises(InputError, match=r"multipart field named one of \['data', 'file'\]"):
        find_payload({"other": b"x"}, {})


def test_form_encoded_body_gets_a_hint_about_content_type() -> None:
    with pytest.raises(InputError, match="Content-Type: image/png"):
        find_payload({"\x89PNG": b""}, {}, form=True)


def test_parse_json_passes_already_parsed_values() -> None:
    assert parse_json(Payload({"inputs": [1]}, "application/json")) == {"inputs": [1]}


def test_parse_json_reads_bytes_and_names_the_syntax_error() -> None:
    assert parse_json(Payload(b"[1, 2]", "application/octet-stream")) == [1, 2]
    with pytest.raises(InputError, match="body is not valid JSON: Expecting"):
        parse_json(Payload(bytearray(b'{"inputs": [1'), "application/json"))


def test_as_bytes_refuses_parsed_json() -> None:
    assert as_bytes(bytearray(b"ab")) == b"ab"
    with pytest.raises(InputError, match="expected raw bytes, got JSON dict"):
        as_bytes({"image": "x"})


def test_an_image_sent_as_json_is_named() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(20)
    with pytest.raises(InputError, match=r"not UTF-8 text .* it starts like a PNG image"):
        parse_json(Payload(png, "application/json"))
    with pytest.raises(InputError, match="it starts like binary data"):
        parse_json(Payload(b"\xfe\xff\x00", ""))
