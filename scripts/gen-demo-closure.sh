#!/usr/bin/env bash
# Regenerates demo/closure/ with real Nix 2.8: builds demo/closure.nix into a chroot store and keeps
# what a builder machine would have after the build: the .drv files and output trees (as NARs made by
# `nix-store --dump`), the Nix database (realisations of the CA step) and, in build order, the
# DRV_PATH/OUT_PATHS each post-build-hook call received. scripts/demo uses it when Nix is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${NIX_CONFIG:=$'experimental-features = nix-command ca-derivations\nsandbox = false\nbuild-users-group =\nsubstituters ='}"
export NIX_CONFIG
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
root="$work/root"
printf '#!/bin/sh\necho "$DRV_PATH $OUT_PATHS" >> %s\n' "$work/steps" > "$work/hook"; chmod +x "$work/hook"
nix build --store "$root" --option sandbox-paths "/bin /lib /lib64 /usr" --option post-build-hook "$work/hook" \
  -f demo/closure.nix --no-link >/dev/null
out=demo/closure; rm -rf "$out"; mkdir -p "$out/store"
for p in "$root"/nix/store/*; do
  case "$p" in *.lock) continue ;; esac
  nix-store --dump "$p" > "$out/store/$(basename "$p").nar"
done
sqlite3 "$root/nix/var/nix/db/db.sqlite" "VACUUM INTO '$PWD/$out/db.sqlite'"
cp "$work/steps" "$out/steps"
echo "wrote $out: $(wc -l < "$out/steps") build steps, $(ls "$out/store" | wc -l) store paths"
