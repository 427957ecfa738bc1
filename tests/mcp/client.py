#!/usr/bin/env python3
"""A real MCP client (the Python `mcp` package's stdio client) for tests/mcp.rs.

Launches an MCP server over stdio, negotiates the protocol (`auto`: the 2026-07-28
discovery, falling back to the initialize handshake; `legacy`: the initialize handshake
that clients of the 2024-2025 revisions speak), lists its tools, then makes the calls
read from stdin in order, one session for all of them, and prints one JSON object:

    {"protocol": "...", "server": {...}, "instructions": "...", "tools": [...],
     "results": [{"is_error": bool, "text": "...", "structured": {...}}
                 | {"protocol_error": "..."}, ...]}

    echo '[["get_trace", {"trace_id": "..."}]]' | python3 client.py auto -- vitals mcp --provider file ...
"""
import asyncio
import json
import os
import sys

from mcp import Client, MCPError, StdioServerParameters


async def main(mode, command):
    calls = json.load(sys.stdin)
    # The client passes only a safe few variables on; the server's log goes where the test says.
    env = {key: os.environ[key] for key in ("XDG_STATE_HOME", "XDG_DATA_HOME", "VITALS_LOG") if key in os.environ}
    server = StdioServerParameters(command=command[0], args=command[1:], env=env)
    out = {"results": []}
    async with Client(server, mode=mode, read_timeout_seconds=60) as client:
        out["protocol"] = client.protocol_version
        info = client.server_info
        out["server"] = info.model_dump(mode="json", exclude_none=True) if info else None
        out["instructions"] = client.instructions
        listed = await client.list_tools()
        out["tools"] = [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in listed.tools]
        for name, arguments in calls:
            try:
                result = await client.call_tool(name, arguments)
            except MCPError as e:
                out["results"].append({"protocol_error": str(e)})
                continue
            texts = [block.text for block in result.content if getattr(block, "type", None) == "text"]
            out["results"].append({
                "is_error": bool(result.is_error),
                "text": "\n".join(texts),
                "structured": result.structured_content,
            })
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    separator = sys.argv.index("--")
    asyncio.run(main(sys.argv[1], sys.argv[separator + 1:]))
