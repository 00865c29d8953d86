#!/bin/sh
# Params arrive as environment variables, never through a shell's parser:
# "$METALAB_PARAM_GREETING" is exactly the string in sweep.toml.
set -eu
printf '%s, run %s\n' "$METALAB_PARAM_GREETING" "$METALAB_RUN_ID"
echo "{\"metric\": \"length\", \"value\": ${#METALAB_PARAM_GREETING}}" >> "$METALAB_CAPTURE"
