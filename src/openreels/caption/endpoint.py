"""Ask an OpenAI-compatible /chat/completions endpoint (vLLM, Ollama, llama.cpp, ...) for a caption as JSON,
validate it against the schema, and ask again with the problems spelled out when it is not valid.

Plain urllib (as the studio's LLM writer does): one POST with a timeout needs no HTTP client dependency.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from openreels.caption.schema import CaptionInvalid
from openreels.errors import OpenreelsError


def _endpoint(url: str) -> str:
    if not re.match(r"https?://", url or ""):
        raise OpenreelsError(
            f"the endpoint must be an http(s) URL such as http://127.0.0.1:8000/v1, got {url!r}"
        )
    url = url.rstrip("/")
    return url if url.endswith("/chat/completions") else url + "/chat/completions"


def _post(endpoint: str, body: dict, key: str, timeout: float) -> str:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(endpoint, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.loads(response.read().decode("utf-8"))
    return reply["choices"][0]["message"]["content"]


def parse_json(text: str) -> object:
    """The JSON object in a model's answer (bare, or inside ``` fences, or after some words)."""
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fenced:
        text = fenced.group(1)
    start = text.find("{")
    if start < 0:
        raise CaptionInvalid("the answer holds no JSON object")
    try:
        return json.JSONDecoder().raw_decode(text[start:])[0]
    except ValueError as exc:
        raise CaptionInvalid(f"the answer is not valid JSON ({exc})") from exc


def ask_json(
    url: str,
    model: str,
    messages: list[dict],
    validate: Callable[[object], dict],
    key: str = "",
    timeout: float = 60.0,
    retries: int = 2,
    schema: dict | None = None,
) -> tuple[dict, int]:
    """(validated answer, attempts). An invalid answer is sent back with its problems for a corrected one;
    a timeout or connection error is tried again; after `retries` more attempts a one-line OpenreelsError.
    `schema` (a JSON Schema) also asks the server to constrain its output to it."""
    endpoint = _endpoint(url)
    body: dict = {"model": model, "temperature": 0, "messages": list(messages)}
    if schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "caption", "schema": schema},
        }
    last = ""
    for attempt in range(1, retries + 2):
        try:
            text = _post(endpoint, body, key, timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 400 and "response_format" in body:  # a server without structured output
                body.pop("response_format")
                last = "HTTP 400 to response_format"
                continue
            raise OpenreelsError(
                f"{endpoint} answered HTTP {exc.code}; check the URL, --model and the key"
            ) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            last = (
                f"no answer within {timeout:g} s"
                if "timed out" in str(reason)
                else f"cannot reach it ({reason})"
            )
            time.sleep(min(0.5 * attempt, 2.0))
            continue
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise OpenreelsError(f"{endpoint} did not answer like an OpenAI chat API ({exc})") from exc
        try:
            return validate(parse_json(text)), attempt
        except CaptionInvalid as exc:
            last = f"invalid answer: {exc}"
            body["messages"] = [
                *body["messages"],
                {"role": "assistant", "content": text},
                {
                    "role": "user",
                    "content": f"That JSON does not fit the schema: {exc}. Answer again with only the "
                    "corrected JSON object, using only the allowed words.",
                },
            ]
    raise OpenreelsError(
        f"{endpoint} gave no valid caption in {retries + 1} attempts ({last}); "
        "check the model, or raise --retries/--timeout"
    )
