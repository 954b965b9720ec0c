#!/usr/bin/env bash
# Builds the MCPB bundle for Claude Desktop (manifest 0.3, a binary server) and, with the official
# CLI (@anthropic-ai/mcpb; set MCPB to its cli.js, or have `npx` reach it), validates and packs it.
#   bundle/build.sh [BINARY]      default: a release build of this repository
# Output: target/mcpb/leadmagic-mcp/ (the bundle's files) and target/mcpb/leadmagic-mcp.mcpb.
# The manifest is written from the binary itself: its version, and the tools of the default set.
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY="${1:-}"
if [ -z "$BINARY" ]; then
  cargo build --release --locked --quiet
  BINARY=target/release/leadmagic-mcp
fi
OUT=target/mcpb
STAGE="$OUT/leadmagic-mcp"
rm -rf "$STAGE" && mkdir -p "$STAGE/server"
cp "$BINARY" "$STAGE/server/leadmagic-mcp"
chmod +x "$STAGE/server/leadmagic-mcp"
case "$(uname -s)" in
  Darwin) PLATFORM=darwin ;;
  MINGW*|MSYS*|CYGWIN*) PLATFORM=win32 ;;
  *) PLATFORM=linux ;;
esac
VERSION="$(grep -m1 '^version' Cargo.toml | cut -d'"' -f2)"
env -i "$BINARY" tools --json > "$OUT/tools.json"
python3 - "$OUT/tools.json" "$VERSION" "$PLATFORM" > "$STAGE/manifest.json" <<'PY'
import json, sys
tools = json.load(open(sys.argv[1]))["tools"]
manifest = {
    "manifest_version": "0.3",
    "name": "leadmagic-mcp",
    "display_name": "LeadMagic",
    "version": sys.argv[2],
    "description": "LeadMagic B2B data for Claude: find and validate work emails, mobiles, profiles, companies, jobs and ads, with the credit cost of every tool.",
    "long_description": "Runs the leadmagic-mcp server on this computer with your LeadMagic API key. Bad input is refused before anything is billed, calls above the confirmation threshold ask first, and no part of the key reaches a log or a result.",
    "author": {"name": "leadmagic-mcp contributors"},
    "license": "MIT",
    "keywords": ["leadmagic", "b2b", "email", "enrichment"],
    "server": {
        "type": "binary",
        "entry_point": "server/leadmagic-mcp",
        "mcp_config": {
            "command": "${__dirname}/server/leadmagic-mcp",
            "args": ["--toolsets", "${user_config.toolsets}", "--max-credits", "${user_config.max_credits}"],
            # The key travels in the environment, never in argv.
            "env": {"LEADMAGIC_API_KEY": "${user_config.api_key}"},
        },
    },
    "tools": [{"name": t["name"], "description": t["description"]} for t in tools],
    "tools_generated": False,
    "user_config": {
        "api_key": {
            "type": "string", "title": "LeadMagic API key", "sensitive": True, "required": True,
            "description": "Your key from the LeadMagic dashboard. Stored by Claude Desktop in the system keychain.",
        },
        "toolsets": {
            "type": "string", "title": "Toolsets", "required": False, "default": "default",
            "description": "Comma-separated: default, all, or names (credits, workflows, people, companies, search, jobs, ads, bulk, ...).",
        },
        "max_credits": {
            "type": "number", "title": "Credit budget", "required": False, "default": 1000, "min": 0,
            "description": "Refuse, before sending, any call that could push this session's spend over this many credits.",
        },
    },
    "compatibility": {"platforms": [sys.argv[3]]},
}
print(json.dumps(manifest, indent=2))
PY
if [ -n "${MCPB:-}" ]; then
  RUN=(node "$MCPB")
  [ -n "${NODE:-}" ] && RUN=("$NODE" "$MCPB")
else
  RUN=(npx --yes @anthropic-ai/mcpb@2.1.2)
fi
"${RUN[@]}" validate "$STAGE/manifest.json"
"${RUN[@]}" pack "$STAGE" "$OUT/leadmagic-mcp.mcpb"
# The registry entry of this bundle: server.json with the file's SHA-256 filled in.
python3 - "$OUT/leadmagic-mcp.mcpb" server.json > "$OUT/server.json" <<'PY'
import hashlib, json, sys
entry = json.load(open(sys.argv[2]))
digest = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()
for package in entry["packages"]:
    if package["registryType"] == "mcpb":
        package["fileSha256"] = digest
print(json.dumps(entry, indent=2))
PY
echo "bundle: $OUT/leadmagic-mcp.mcpb (registry entry: $OUT/server.json)"
