#!/usr/bin/env bash
# Builds one libFuzzer target, replays FailCases/, then fuzzes for a bounded time.
#
#   ./run.sh <FuzzNARReader|FuzzATermParser> [seconds=60] [extra libFuzzer flags…]
#
# Every input that crashes goes into FailCases/ (named <Target>-<what>) and gets a unit test.
# The corpus grows in .corpus/<Target>/ (ignored by git); seeds come from the test vectors.
set -euo pipefail

target="${1:?usage: $0 <FuzzNARReader|FuzzATermParser> [seconds] [libFuzzer flags…]}"
seconds="${2:-60}"
shift $(( $# >= 2 ? 2 : 1 ))

cd "$(dirname "$0")"
# Let libFuzzer and ASan report crashes; the Swift backtracer would fight ASan over the stack.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"
swift build -c debug -Xswiftc -sanitize=fuzzer,address --product "$target"
binary="$(swift build -c debug -Xswiftc -sanitize=fuzzer,address --show-bin-path)/$target"

# Replay known failures: every target must survive every file (wrong format just gets rejected).
shopt -s nullglob
fail_cases=()
for case_file in FailCases/*; do [[ "$case_file" == *.md ]] || fail_cases+=("$case_file"); done
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
esac
for seed in "${seeds[@]}"; do cp -n "$seed" "$corpus/" 2>/dev/null || true; done

dict=()
[[ -f "Dictionaries/$target.dict" ]] && dict=(-dict="Dictionaries/$target.dict")

echo "== fuzzing $target for ${seconds}s"
"$binary" "$corpus" "${dict[@]}" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -artifact_prefix=".artifacts/$target-" -print_final_stats=1 "$@"
