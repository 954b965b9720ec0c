#!/usr/bin/env python3
"""Drives leadmagic-mcp's composites, prompts, resources and confirmations with the official Python
MCP SDK client (mcp 2.x), answering the server's elicitation with --answer.
  mcp_workflows_check.py --answer accept|decline [--mode legacy|auto] http URL
  mcp_workflows_check.py --answer accept|decline [--mode legacy|auto] stdio --env K=V... -- CMD [ARG...]
Prints one JSON line: what each step returned."""
import argparse, json, sys

import anyio
from mcp import Client, StdioServerParameters, types
from mcp.client.streamable_http import streamable_http_client

COMPOSITES = {
    "research_account": {"company_domain": "example.org"},
    "enrich_contact": {"first_name": "Jane", "last_name": "Doe", "domain": "example.org", "include_mobile": True},
    "find_decision_makers": {"company_domain": "example.org", "titles": ["CEO", "CTO"]},
}
PROMPTS = {
    "account_research": {"company": "example.org"},
    "contact_lookup": {"name": "Jane Doe", "company": "example.org"},
    "find_decision_makers": {"company": "example.org", "titles": "CEO, CTO"},
}


def parse_args(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--answer", choices=["accept", "decline"], required=True)
    p.add_argument("--mode", default="legacy")
    sub = p.add_subparsers(dest="transport", required=True)
    h = sub.add_parser("http"); h.add_argument("url")
    s = sub.add_parser("stdio"); s.add_argument("--env", action="append", default=[])
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    ns = p.parse_args(argv)
    if ns.transport == "stdio":
        ns.cmd = ns.cmd[1:] if ns.cmd[:1] == ["--"] else ns.cmd
    return ns


async def run(ns):
    asked = []

    async def elicit(context, params):
        asked.append(params.message)
        if ns.answer == "accept":
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action="decline")

    if ns.transport == "http":
        server = streamable_http_client(ns.url)
    else:
        env = dict(kv.split("=", 1) for kv in ns.env)
        server = StdioServerParameters(command=ns.cmd[0], args=ns.cmd[1:], env=env)
    out = {"composites": {}, "prompts": {}, "resources": {}}
    with anyio.fail_after(60):
        async with Client(server, mode=ns.mode, elicitation_callback=elicit, cache=None) as c:
            out["protocol"] = str(c.protocol_version)
            tools = {t.name: t for t in (await c.list_tools()).tools}
            for name, args in COMPOSITES.items():
                r = await c.call_tool(name, args)
                sc = r.structured_content or {}
                out["composites"][name] = {
                    "listed_cost": "Cost: up to" in (tools[name].description or ""),
                    "isError": bool(r.is_error),
                    "summary": sc.get("summary"),
                    "credits": sc.get("_credits", {}).get("used"),
                    "steps": [[s["id"], s["status"]] for s in sc.get("steps", [])],
                }
            listed = [p.name for p in (await c.list_prompts()).prompts]
            for name, args in PROMPTS.items():
                r = await c.get_prompt(name, args)
                out["prompts"][name] = {"listed": name in listed, "text": r.messages[0].content.text}
            resources = [str(r.uri) for r in (await c.list_resources()).resources]
            templates = [t.uri_template for t in (await c.list_resource_templates()).resource_templates]
            uris = resources + [templates[0].replace("{name}", n) for n in COMPOSITES]
            for uri in uris:
                r = await c.read_resource(uri)
                out["resources"][uri] = len(r.contents[0].text)
            # Above the confirmation threshold: the server asks through the elicitation callback.
            r = await c.call_tool("search_people", {"company_domain": "example.org", "limit": 100})
            sc = r.structured_content or {}
            out["confirm"] = {"asked": asked, "isError": bool(r.is_error), "kind": sc.get("kind")}
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(anyio.run(run, parse_args(sys.argv[1:])))
