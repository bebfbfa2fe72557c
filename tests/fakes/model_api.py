"""A fake model API that records requests and answers every turn with one short text reply.

It speaks just enough of three wire formats for a one-turn agent run:
- Anthropic Messages (``POST /v1/messages``, streaming SSE or JSON) for Claude Code;
- OpenAI Responses (``POST /v1/responses``, streaming SSE) for Codex. Codex gets its prompt as
  "Read and follow the instructions in PATH." (it is not inlined), so for such a turn the fake
  first asks for ``cat PATH`` through codex's ``exec_command`` tool: the next request then
  carries the file's text, which shows the agent could read it in the bottle.
- Gemini (``POST /v1beta/models/M:streamGenerateContent?alt=sse`` for a turn; ``:generateContent``
  for the CLI's JSON side questions, such as which model to route a turn to) for the Gemini CLI.
Anything else gets a 404 (and is recorded, so a test can see what else a CLI asked for).
"""

from __future__ import annotations

import base64
import json
import re
import typing as t
import uuid
import zlib

from fakes import FakeHandler, FakeServer, Recorded
from fakes.tls_api import FakeTlsApi

REPLY = "bot-bottle fake model reply"


def _anthropic_message(model: str) -> dict[str, t.Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1},
    }


def anthropic_events(model: str, text: str) -> list[tuple[str, t.Any]]:
    message = _anthropic_message(model)
    return [
        ("message_start", {"type": "message_start", "message": message}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": text}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 5}}),
        ("message_stop", {"type": "message_stop"}),
    ]


def anthropic_json(model: str, text: str) -> dict[str, t.Any]:
    return {**_anthropic_message(model), "content": [{"type": "text", "text": text}], "stop_reason": "end_turn"}


READ_FILE = re.compile(r"Read and follow the instructions in (\S+)\.")


def responses_reply(body: dict[str, t.Any]) -> dict[str, t.Any]:
    """The output item for a turn: a ``cat`` of the prompt file first, else a text reply."""
    items = body.get("input") or []
    if not any(i.get("type") == "function_call_output" for i in items):
        last = items[-1] if items else {}
        match = READ_FILE.search(" ".join(c.get("text", "") for c in last.get("content") or [] if isinstance(c, dict)))
        if match:
            return {"type": "function_call", "id": f"fc_{uuid.uuid4().hex[:24]}", "call_id": f"call_{uuid.uuid4().hex[:12]}",
                    "name": "exec_command", "arguments": json.dumps({"cmd": f"cat {match.group(1)}"}),
                    "status": "completed"}
    return {"type": "message", "id": f"msg_{uuid.uuid4().hex[:24]}", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": REPLY, "annotations": []}]}


def responses_events(model: str, item: dict[str, t.Any]) -> list[tuple[str, t.Any]]:
    response_id = f"resp_{uuid.uuid4().hex[:24]}"
    item_id = item["id"]
    text = "".join(c.get("text", "") for c in item.get("content", []))
    usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}
    base = {"id": response_id, "object": "response", "model": model, "created_at": 0}
    return [
        ("response.created", {"type": "response.created", "response": {**base, "status": "in_progress", "output": []}}),
        ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0,
                                        "item": {**item, "status": "in_progress"}}),
        *([("response.output_text.delta", {"type": "response.output_text.delta", "item_id": item_id,
                                           "output_index": 0, "content_index": 0, "delta": text})] if text else []),
        ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
        ("response.completed", {"type": "response.completed",
                                "response": {**base, "status": "completed", "output": [item], "usage": usage}}),
    ]


def gemini_chunk(text: str) -> dict[str, t.Any]:
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
            "modelVersion": "gemini-fake"}


# Claude on the cloud platforms: Vertex streams the Messages events as SSE; Bedrock wraps each one
# in an AWS event stream frame ({"bytes": base64 of the event JSON}).
VERTEX_TURN = ":streamRawPredict"
BEDROCK_TURN = "/invoke-with-response-stream"


def eventstream_frame(headers: t.Mapping[str, str], payload: bytes) -> bytes:
    """One frame of the AWS event stream encoding (application/vnd.amazon.eventstream)."""
    encoded = b"".join(bytes([len(name)]) + name.encode() + b"\x07" + len(value.encode()).to_bytes(2, "big")
                       + value.encode() for name, value in headers.items())
    prelude = (12 + len(encoded) + len(payload) + 4).to_bytes(4, "big") + len(encoded).to_bytes(4, "big")
    message = prelude + zlib.crc32(prelude).to_bytes(4, "big") + encoded + payload
    return message + zlib.crc32(message).to_bytes(4, "big")


def bedrock_stream(events: t.Iterable[tuple[str, t.Any]]) -> bytes:
    headers = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    frames = []
    for _name, data in events:
        chunk = {"bytes": base64.b64encode(json.dumps(data).encode()).decode()}
        frames.append(eventstream_frame(headers, json.dumps(chunk).encode()))
    return b"".join(frames)


# What the Gemini CLI's JSON side questions expect: its model router and next-speaker check.
GEMINI_SIDE_ANSWER = json.dumps({"reasoning": "fake", "model_choice": "flash", "next_speaker": "user"})
GEMINI_TURN = ":streamGenerateContent"


class ModelApiHandler(FakeHandler):
    def handle_request(self, request: Recorded) -> None:
        path = request.path.split("?")[0]
        if request.method == "POST" and path.endswith("/messages"):
            body = request.json()
            model = body.get("model", "fake")
            if body.get("stream"):
                self.send_sse(anthropic_events(model, REPLY))
            else:
                self.send_json(200, anthropic_json(model, REPLY))
        elif request.method == "POST" and path.endswith("/responses"):
            body = request.json()
            self.send_sse(responses_events(body.get("model", "fake"), responses_reply(body)))
        elif request.method == "POST" and path.endswith(VERTEX_TURN):
            self.send_sse(anthropic_events(path.rsplit("/", 1)[-1].partition(":")[0], REPLY))
        elif request.method == "POST" and path.endswith(BEDROCK_TURN):
            self.send_bytes(bedrock_stream(anthropic_events(path.split("/")[-2], REPLY)),
                            "application/vnd.amazon.eventstream")
        elif request.method == "POST" and path.endswith(GEMINI_TURN):
            self.send_sse([(None, gemini_chunk(REPLY))])
        elif request.method == "POST" and path.endswith(":generateContent"):
            self.send_json(200, gemini_chunk(GEMINI_SIDE_ANSWER))
        else:
            self.send_empty(404)


class FakeModelApi(FakeServer):
    handler_class = ModelApiHandler

    def turns(self) -> list[Recorded]:
        """The model requests (one per turn), in order."""
        return [r for r in self.requests
                if r.method == "POST" and r.path.split("?")[0].endswith(
                    ("/messages", "/responses", GEMINI_TURN, VERTEX_TURN, BEDROCK_TURN))]


class TlsModelApi(FakeTlsApi):
    """The fake model API (every provider's wire format) over TLS, under the names its CA signs."""

    handler_class = ModelApiHandler
    turns = FakeModelApi.turns
