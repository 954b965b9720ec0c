#!/usr/bin/env python3
"""Drives leadmagic-mcp with the official Python MCP SDK client (mcp 2.x), a client this project did not write.
  client_check.py --tool NAME [--args JSON] [--expect-error] [--mode legacy|auto] [--timeout S] \
      http URL [-H 'Name: value']...
  client_check.py ... stdio [--env K=V]... [--inherit-env] [--cwd DIR] -- CMD [ARG...]
Initializes, lists tools (prints count), calls the tool, prints {"isError","structuredContent"}
as one JSON line. Exit 0 only if all steps succeed and isError == --expect-error."""
import argparse, json, os, sys, traceback

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client


def log(*a): print(*a, file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tool", required=True)
    p.add_argument("--args", default="{}", help="JSON object (default {})")
    p.add_argument("--expect-error", action="store_true", help="require isError == true")
    p.add_argument("--mode", default="legacy", help="legacy (initialize handshake, default) | auto "
                   "(SDK default: probe server/discover, fall back to initialize)")
    p.add_argument("--timeout", type=float, default=30.0)
    sub = p.add_subparsers(dest="transport", required=True)
    h = sub.add_parser("http"); h.add_argument("url")
    h.add_argument("-H", "--header", action="append", default=[])
    s = sub.add_parser("stdio")
    s.add_argument("--env", action="append", default=[], help="K=V, repeatable")
    s.add_argument("--inherit-env", action="store_true",
                   help="pass the whole environment (SDK default: only HOME PATH SHELL TERM USER LOGNAME + --env)")
    s.add_argument("--cwd"); s.add_argument("cmd", nargs=argparse.REMAINDER)
    ns = p.parse_args(argv)
    if ns.transport == "stdio":
        ns.cmd = ns.cmd[1:] if ns.cmd[:1] == ["--"] else ns.cmd
        if not ns.cmd: p.error("stdio: missing -- CMD [ARG...]")
    return ns


async def run(ns):
    tool_args = json.loads(ns.args)
    if not isinstance(tool_args, dict): raise ValueError("--args must be a JSON object")
    http = None
    if ns.transport == "http":
        headers = {}
        for hv in ns.header:
            k, sep, v = hv.partition(":")
            if not sep or not k.strip(): raise ValueError(f"bad header {hv!r}")
            headers[k.strip()] = v.strip()
        # Extra headers ride on the httpx2 client; the SDK itself adds Accept/Content-Type/MCP-Protocol-Version.
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(ns.timeout))
        server = streamable_http_client(ns.url, http_client=http)
    else:
        env = dict(os.environ) if ns.inherit_env else {}
        for kv in ns.env:
            k, sep, v = kv.partition("=")
            if not sep: raise ValueError(f"bad --env {kv!r}")
            env[k] = v
        server = StdioServerParameters(command=ns.cmd[0], args=ns.cmd[1:], env=env or None, cwd=ns.cwd)
    try:
        with anyio.fail_after(ns.timeout):
            # cache=None: never serve tools/list from the SDK's response cache
            async with Client(server, mode=ns.mode, read_timeout_seconds=ns.timeout, cache=None) as c:
                si = c.server_info
                log(f"connected: protocol={c.protocol_version} server={si.name if si else '?'} {si.version if si else ''}")
                tools, cursor = [], None
                for _ in range(1000):
                    page = await c.list_tools(cursor=cursor)
                    tools += page.tools; cursor = page.next_cursor
                    if not cursor: break
                print(f"tools: {len(tools)}", flush=True)
                if ns.tool not in {t.name for t in tools}:
                    log(f"FAIL: tool {ns.tool!r} not in tools/list"); return 1
                r = await c.call_tool(ns.tool, tool_args)
                is_error = bool(r.is_error)
                print(json.dumps({"isError": is_error, "structuredContent": r.structured_content}), flush=True)
                for item in r.content: log(f"content[{item.type}]:", getattr(item, "text", "")[:300])
    finally:
        if http is not None: await http.aclose()
    if is_error != ns.expect_error:
        log(f"FAIL: isError={is_error}, expected {ns.expect_error}"); return 1
    log("OK"); return 0


def leaves(e):
    return [x for s in e.exceptions for x in leaves(s)] if isinstance(e, BaseExceptionGroup) else [e]


def main():
    ns = parse_args(sys.argv[1:])
    try:
        return anyio.run(run, ns)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # any failure, incl. ExceptionGroup / timeout -> exit 1
        for x in leaves(e): log(f"FAIL: {type(x).__name__}: {x}")
        if os.environ.get("CLIENT_CHECK_TRACEBACK"): traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
