"""The one scrubbing function every outgoing text passes through."""

from __future__ import annotations

from yolo_hooks.core.redact import scrub


def test_a_secret_with_a_lone_surrogate_is_scrubbed_and_breaks_nothing():
    secret = "run\udce9-secret-value"  # what a badly decoded environment variable can hold
    assert scrub(f"token {secret} and https://example.com/a", [secret]) == "token *** and https://example.com/a"
    assert scrub("nothing secret here", [secret]) == "nothing secret here"


def test_a_url_keeps_its_host_and_every_encoded_form_is_masked():
    url = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
    text = f"{url} | {url.replace('/', '%2F').replace(':', '%3A')}"
    assert scrub(text, [url]) == "https://hooks.slack.com/*** | ***"
