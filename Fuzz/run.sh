#!/usr/bin/env bash
# Builds one libFuzzer target, replays FailCases/, then fuzzes for a bounded time.
#
#   ./run.sh <Target> [seconds=60] [extra libFuzzer flags…]
#
# Targets: FuzzNARReader, FuzzATermParser (NixFormats wire formats), FuzzNARInfo, FuzzRealisation
# (NixFormats, what caches and uploaders send), FuzzJSONValue, FuzzTraceEnvelope (VouchTrace),
# FuzzPolicyTOML (VouchVerify), FuzzEd25519 (NixFormats' Ed25519VerifyingKey against swift-crypto).
# `./run.sh all [seconds]` runs each in turn (one at a time).
#
# Every input that crashes goes into FailCases/ (named <Target>-<what>, or FailCases/<Target>/<what>)
# and gets a unit test. The corpus grows in .corpus/<Target>/ (ignored by git); seeds come from the
# test vectors and Seeds/<Target>/.
set -euo pipefail

targets="FuzzNARReader FuzzATermParser FuzzNARInfo FuzzRealisation FuzzJSONValue FuzzTraceEnvelope FuzzPolicyTOML FuzzEd25519"
target="${1:?usage: $0 <FuzzNARReader|FuzzATermParser|FuzzNARInfo|FuzzRealisation|FuzzJSONValue|FuzzTraceEnvelope|FuzzPolicyTOML|FuzzEd25519|all> [seconds] [libFuzzer flags…]}"
seconds="${2:-60}"
shift $(( $# >= 2 ? 2 : 1 ))

cd "$(dirname "$0")"
if [[ "$target" == all ]]; then
    for each in $targets; do "./$(basename "$0")" "$each" "$seconds" "$@"; done
    exit 0
fi
[[ " $targets " == *" $target "* ]] || { echo "unknown target '$target' (one of: $targets, all)" >&2; exit 2; }
# Let libFuzzer and ASan report crashes; the Swift backtracer would fight ASan over the stack.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"
swift build -c debug -Xswiftc -sanitize=fuzzer,address --product "$target"
binary="$(swift build -c debug -Xswiftc -sanitize=fuzzer,address --show-bin-path)/$target"

# Replay known failures: every target must survive every file (wrong format just gets rejected).
shopt -s nullglob globstar
fail_cases=()
for case_file in FailCases/**; do
    if [[ -f "$case_file" && "$case_file" != *.md ]]; then fail_cases+=("$case_file"); fi
done
if (( ${#fail_cases[@]} > 0 )); then
    echo "== replaying ${#fail_cases[@]} fail case(s)"
    "$binary" -runs=1 "${fail_cases[@]}"
fi

corpus=".corpus/$target"
mkdir -p "$corpus" .artifacts
seeds=()
case "$target" in
    FuzzNARReader) seeds=(../Tests/NixFormatsTests/Vectors/nar/*.nar) ;;
    FuzzATermParser) seeds=(../Tests/NixFormatsTests/Vectors/drv/*.drv ../Tests/NixFormatsTests/Vectors/drv/*/*.drv) ;;
    FuzzNARInfo) seeds=(../Tests/NixFormatsTests/Vectors/nix/narinfo/*.narinfo) ;;
    FuzzRealisation) seeds=(../Tests/NixFormatsTests/Vectors/nix/realisations/*.doi) ;;
esac
seeds+=("Seeds/$target"/*)
for seed in "${seeds[@]}"; do cp -n "$seed" "$corpus/" 2>/dev/null || true; done

dict=()
[[ -f "Dictionaries/$target.dict" ]] && dict=(-dict="Dictionaries/$target.dict")

# NAR and ATerm inputs stay small so mutations reach the structure; the network-facing parsers
# get 64 KiB, room for large traces and narinfos with many references.
max_len=65536
case "$target" in FuzzNARReader|FuzzATermParser) max_len=4096 ;; esac

echo "== fuzzing $target for ${seconds}s"
"$binary" "$corpus" "${dict[@]}" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
    -artifact_prefix=".artifacts/$target-" -print_final_stats=1 "$@"
