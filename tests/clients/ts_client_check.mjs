// Drives leadmagic-mcp with the official TypeScript MCP SDK client, which validates every
// structuredContent against the tool's outputSchema. A client this project did not write.
//   node ts_client_check.mjs SDK_NODE_MODULES CALLS_JSON http URL
//   node ts_client_check.mjs SDK_NODE_MODULES CALLS_JSON stdio CMD [ARG...]   (env passed through)
// CALLS_JSON: [[tool, args, expectError], ...]. Lists every tool (all pages), makes the calls,
// prints one JSON line: {server, tools, calls: [{tool, isError, kind, keys}]}. Exit 1 on any
// failure, including an output-schema mismatch (the SDK throws).
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [sdkDir, callsJson, transport, ...rest] = process.argv.slice(2);
const sdk = (p) => import(pathToFileURL(join(sdkDir, "@modelcontextprotocol/sdk/dist/esm", p)).href);
const { Client } = await sdk("client/index.js");
const calls = JSON.parse(callsJson);

let t;
if (transport === "http") {
  const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
  t = new StreamableHTTPClientTransport(new URL(rest[0]));
} else {
  const { StdioClientTransport } = await sdk("client/stdio.js");
  t = new StdioClientTransport({ command: rest[0], args: rest.slice(1), env: process.env, stderr: "pipe" });
}
const client = new Client({ name: "leadmagic-ts-check", version: "0" });
try {
  await client.connect(t);
  const tools = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  const out = { server: client.getServerVersion()?.name, tools: tools.map((x) => x.name), calls: [] };
  for (const [tool, args, expectError] of calls) {
    // callTool validates structuredContent against the listed outputSchema (and throws if not).
    const r = await client.callTool({ name: tool, arguments: args });
    const sc = r.structuredContent ?? {};
    if (Boolean(r.isError) !== Boolean(expectError)) {
      throw new Error(`${tool}: isError=${r.isError}: ${JSON.stringify(sc)}`);
    }
    out.calls.push({ tool, isError: Boolean(r.isError), kind: sc.kind ?? null, keys: Object.keys(sc) });
  }
  console.log(JSON.stringify(out));
  await client.close();
} catch (e) {
  console.error(`FAIL: ${e?.stack ?? e}`);
  process.exit(1);
}
