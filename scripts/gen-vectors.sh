#!/usr/bin/env bash
# Regenerate the golden vectors in Tests/NixFormatsTests/Vectors/nix/ with real Nix 2.8.
# Needs: nix-bin (2.8.x) usable as root in single-user mode, python3.
# Writes to /nix/store (builds small /bin/sh derivations) and the default Nix database.
# Deterministic: re-running reproduces identical files (the key pair in keys/ is reused).
# See Tests/NixFormatsTests/Vectors/nix/README.md for the file formats.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${NIX_CONFIG:=$'experimental-features = nix-command ca-derivations\nsandbox = false\nbuild-users-group =\nsubstituters ='}"
export NIX_CONFIG
unset NIX_REMOTE || true

v=$(nix --version)
case "$v" in
  *" 2.8."*) ;;
  *) echo "gen-vectors: expected Nix 2.8.x, found: $v" >&2
     [ "${ALLOW_OTHER_NIX:-0}" = 1 ] || exit 1 ;;
esac

exec python3 scripts/vectors/gen.py "$@"
