#!/usr/bin/env python3
"""Drives leadmagic-mcp replicas behind a load balancer with the official Python MCP SDK client.
  replicas_check.py URL confirm        a confirmation_required call, then the same call with its token
  replicas_check.py URL load N K       K concurrent clients, N validate_work_email calls each
Prints one JSON line with what happened."""
import json, sys

import anyio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def confirm(url):
    async with Client(streamable_http_client(url), mode="legacy", cache=None) as c:
        args = {"company_domain": "example.org", "limit": 100}
        first = await c.call_tool("search_people", args)
        token = (first.structured_content or {}).get("confirmation_token")
        second = await c.call_tool("search_people", {**args, "confirmation_token": token})
        return {"first": (first.structured_content or {}).get("kind"), "second_error": bool(second.is_error),
                "second": second.structured_content}


async def load(url, n, k):
    results = {"ok": 0, "errors": [], "clients": k}

    async def one(i):
        async with Client(streamable_http_client(url), mode="legacy", cache=None) as c:
            for j in range(n):
                try:
                    r = await c.call_tool("validate_work_email", {"email": f"p{i}-{j}@example.org"})
                    if r.is_error:
                        results["errors"].append((r.structured_content or {}).get("kind"))
                    else:
                        results["ok"] += 1
                except Exception as e:  # a transport failure counts as an error
                    results["errors"].append(f"{type(e).__name__}: {e}"[:200])

    async with anyio.create_task_group() as tg:
        for i in range(k):
            tg.start_soon(one, i)
    return results


async def main(argv):
    url, what = argv[0], argv[1]
    with anyio.fail_after(120):
        out = await confirm(url) if what == "confirm" else await load(url, int(argv[2]), int(argv[3]))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1:])
