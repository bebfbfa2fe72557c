"""A tiny MCP server over streamable HTTP (JSON responses, no SSE stream).

Enough of the protocol for an agent to connect and use it: ``initialize``,
``notifications/initialized``, ``tools/list`` and ``tools/call`` of one tool.
"""

from __future__ import annotations

import typing as t

from fakes import FakeHandler, FakeServer, Recorded

MCP_PATH = "/mcp"
TOOL = {
    "name": "report_progress",
    "description": "Tell the bot-bottle supervisor how the task is going.",
    "inputSchema": {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]},
}
SESSION = "bot-bottle-fake-session"


def _result(request: dict[str, t.Any]) -> dict[str, t.Any] | None:
    method = request.get("method")
    params = request.get("params") or {}
    if method == "initialize":
        return {
            "protocolVersion": params.get("protocolVersion", "2025-06-18"),
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "bot-bottle-supervise", "version": "0.0.1"},
        }
    if method == "tools/list":
        return {"tools": [TOOL]}
    if method == "tools/call":
        return {"content": [{"type": "text", "text": "noted"}], "isError": False}
    if method == "ping":
        return {}
    return None


class McpHandler(FakeHandler):
    def handle_request(self, request: Recorded) -> None:
        if request.path.split("?")[0] != MCP_PATH or request.method != "POST":
            # No server-initiated stream (GET) and no session teardown (DELETE).
            self.send_empty(405 if request.path.split("?")[0] == MCP_PATH else 404)
            return
        message = request.json()
        if "id" not in message:  # a notification: accepted, no body
            self.send_empty(202)
            return
        result = _result(message)
        reply: dict[str, t.Any] = {"jsonrpc": "2.0", "id": message["id"]}
        if result is None:
            reply["error"] = {"code": -32601, "message": f"method not found: {message.get('method')}"}
        else:
            reply["result"] = result
        self.send_json(200, reply, {"Mcp-Session-Id": SESSION})


class FakeMcpServer(FakeServer):
    handler_class = McpHandler

    def methods(self) -> list[str]:
        return [r.json().get("method", "") for r in self.requests if r.method == "POST" and r.body]
