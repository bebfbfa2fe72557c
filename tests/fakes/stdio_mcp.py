"""A stdio MCP server the agent CLIs start in the bottle: it records each start and answers the
few requests a CLI sends (initialize, tools/list, ping).

Copied into the bottle and run with its python3 (stdlib only):
    python3 stdio_mcp.py LOG_PATH
Each start appends one JSON line to LOG_PATH: {"started": true, "probe_env": <$PROBE_ENV>}, so a test
sees that the CLI started it with the configured environment.
"""

import json
import os
import sys

TOOL = {"name": "probe_echo", "description": "Echo the text back (a bot-bottle test tool).",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}


def answer(request: dict) -> dict | None:
    method, request_id = request.get("method"), request.get("id")
    if request_id is None:
        return None  # a notification
    if method == "initialize":
        result = {"protocolVersion": request.get("params", {}).get("protocolVersion", "2025-06-18"),
                  "capabilities": {"tools": {}}, "serverInfo": {"name": "bot-bottle-stdio-probe", "version": "1.0"}}
    elif method == "tools/list":
        result = {"tools": [TOOL]}
    elif method == "ping":
        result = {}
    else:
        return {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": f"no method {method}"}}
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def main() -> None:
    with open(sys.argv[1], "a", encoding="utf-8") as log:
        log.write(json.dumps({"started": True, "probe_env": os.environ.get("PROBE_ENV", "")}) + "\n")
    for line in sys.stdin:
        if line.strip():
            reply = answer(json.loads(line))
            if reply is not None:
                sys.stdout.write(json.dumps(reply) + "\n")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
