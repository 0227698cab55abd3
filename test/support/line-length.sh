#!/usr/bin/env bash
# Fails listing every line over 140 characters in the tracked source files (the formatter cannot
# break long strings and comments, so this rule needs its own check).
set -euo pipefail
cd "$(dirname "$0")/../.."
long=$(git ls-files -z -- '*.ts' '*.js' '*.mjs' | xargs -0 awk 'length > 140 {print FILENAME ":" FNR ": " length " characters"}')
if [ -n "$long" ]; then
  printf '%s\n' "$long" >&2
  echo "lines over 140 characters: split the string with + or rewrap the comment" >&2
  exit 1
fi
