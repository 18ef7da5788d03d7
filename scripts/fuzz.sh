#!/usr/bin/env bash
# libFuzzer harnesses for the parsers that read user files (issue 8):
#   gguf         GGUFParser on arbitrary bytes, then every tensor's byte range
#   safetensors  SafeTensorsFile on arbitrary bytes (through a real file), then float conversion
#   tokenizer    encode (bytes as UTF-8 text) and decode (bytes as token ids) with the default
#                model's tokenizer (tokenizer.json exported once), and tokenizer.json parsing
#   datarow      Training.DataRow.parse on one JSONL line
#   loraconfig   LoRAConfig(jsonData:) (PEFT adapter_config.json)
#   trainconfig  TrainConfig decoded from JSON (the same Decodable init the YAML file goes through)
#
# Usage: scripts/fuzz.sh HARNESS|all [SECONDS]   (default 60 s each)
#
# SwiftPM does not build fuzzers, so this compiles the library modules a harness needs with
# swiftc (-sanitize=fuzzer,address -O -enable-testing, one object and .swiftmodule per module,
# cached in .build-fuzz/) and links each Fuzz/<Name>Fuzzer.swift against them. The harnesses are
# not part of Package.swift, so `swift build` is unaffected. Seeds: Fuzz/corpus/<harness>/ (tiny,
# committed); new inputs go to .build-fuzz/corpus/<harness>/, crashes to .build-fuzz/crashes/.
# Prints one line per harness: executions, crashes, and the crashing input files.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$root/.build-fuzz
mkdir -p "$build/lib" "$build/bin" "$build/crashes"
seconds=${2:-60}
# The Swift runtime's backtracer would spend seconds symbolicating every crash libFuzzer reports.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:handle_abort=1}

mpi_flags=$(pkg-config --cflags ompi-c)
blas_flags=$(pkg-config --cflags openblas)
cflags=(-Xcc -fmodule-map-file="$root/Sources/CMPI/module.modulemap" -Xcc -fmodule-map-file="$root/Sources/CBLAS/module.modulemap")
for flag in $mpi_flags $blas_flags; do cflags+=(-Xcc "$flag"); done
common=(-sanitize=fuzzer,address -O -parse-as-library -swift-version 6 -enable-testing -I "$build/lib" "${cflags[@]}")

# Module dependency order (Package.swift); each builds once and is reused until a source changes.
deps_of() {
  case $1 in
    Quantization|Tokenization|Kernels|Collectives) echo "" ;;
    ModelFormats) echo "Quantization" ;;
    LlamaModel) echo "Kernels Quantization ModelFormats Tokenization" ;;
    LoRA) echo "Kernels Quantization ModelFormats Tokenization LlamaModel" ;;
    Parallelism) echo "Collectives Kernels Quantization ModelFormats Tokenization LlamaModel LoRA" ;;
    Training) echo "Collectives Kernels Quantization ModelFormats Tokenization LlamaModel LoRA Parallelism" ;;
  esac
}

build_module() {
  local name=$1 dep
  for dep in $(deps_of "$name"); do build_module "$dep" || return 1; done
  local object=$build/lib/$name.o
  local sources
  sources=$(find "Sources/$name" -name '*.swift' | sort)
  if [ -f "$object" ] && [ -z "$(find "Sources/$name" -name '*.swift' -newer "$object")" ]; then return 0; fi
  echo "compiling $name" >&2
  # shellcheck disable=SC2086
  swiftc "${common[@]}" -module-name "$name" -wmo -c $sources -o "$object.tmp" \
    -emit-module -emit-module-path "$build/lib/$name.swiftmodule" 2>&1 | grep -E "error" >&2
  [ -f "$object.tmp" ] && mv "$object.tmp" "$object"
  [ -f "$object" ]
}

modules_of() {
  case $1 in
    gguf|safetensors) echo "Quantization ModelFormats" ;;
    tokenizer) echo "Tokenization" ;;
    datarow|loraconfig|trainconfig) echo "Collectives Kernels Quantization ModelFormats Tokenization LlamaModel LoRA Parallelism Training" ;;
    *) return 1 ;;
  esac
}

harness_file() {
  case $1 in
    gguf) echo Fuzz/GGUFFuzzer.swift ;;
    safetensors) echo Fuzz/SafeTensorsFuzzer.swift ;;
    tokenizer) echo Fuzz/TokenizerFuzzer.swift ;;
    datarow) echo Fuzz/DataRowFuzzer.swift ;;
    loraconfig) echo Fuzz/LoRAConfigFuzzer.swift ;;
    trainconfig) echo Fuzz/TrainConfigFuzzer.swift ;;
  esac
}

build_harness() {
  local harness=$1 modules module objects=()
  modules=$(modules_of "$harness") || { echo "unknown harness $harness" >&2; return 1; }
  for module in $modules; do
    build_module "$module" || { echo "cannot compile $module" >&2; return 1; }
    objects+=("$build/lib/$module.o")
  done
  local binary=$build/bin/$harness source
  source=$(harness_file "$harness")
  if [ -f "$binary" ] && [ "$binary" -nt "$source" ] && [ -z "$(find "${objects[@]}" -newer "$binary")" ]; then return 0; fi
  echo "linking $harness" >&2
  swiftc "${common[@]}" -module-name "Fuzz_$harness" "$source" "${objects[@]}" \
    $(pkg-config --libs ompi-c openblas) -o "$binary" 2>&1 | grep -E "error" >&2
  [ -x "$binary" ]
}

# The tokenizer harness needs the default model's tokenizer.json: exported once with tessera.
tokenizer_json() {
  local out=$build/hf/tokenizer.json
  if [ ! -f "$out" ]; then
    local tessera=${TESSERA:-.build/release/tessera}
    "$tessera" export --model models/SmolLM2-135M-Instruct.Q4_1.gguf --format hf --out "$build/hf" >/dev/null 2>&1 \
      || { echo "cannot export the tokenizer with $tessera" >&2; return 1; }
  fi
  echo "$out"
}

run_harness() {
  local harness=$1
  build_harness "$harness" || { echo "$harness: BUILD FAILED"; return 1; }
  if [ "$harness" = tokenizer ]; then
    TESSERA_FUZZ_TOKENIZER=$(tokenizer_json) || return 1
    export TESSERA_FUZZ_TOKENIZER
  fi
  local corpus=$build/corpus/$harness crashes=$build/crashes/$harness log=$build/$harness.log
  mkdir -p "$corpus" "$crashes"
  # libFuzzer stops at the first crash and writes the input to $crashes: fix it, rerun.
  "$build/bin/$harness" "$corpus" "Fuzz/corpus/$harness" -max_total_time="$seconds" -max_len=4096 \
    -timeout=10 -rss_limit_mb=4096 -artifact_prefix="$crashes/" -print_final_stats=1 > "$log" 2>&1
  local runs found
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
  found=$(find "$crashes" -type f | wc -l)
  echo "$harness: $runs executions, $found crashes in ${seconds}s$( [ "$found" -gt 0 ] && echo " ($crashes)")"
  [ "$found" -eq 0 ]
}

harnesses=(gguf safetensors tokenizer datarow loraconfig trainconfig)
target=${1:-all}
status=0
if [ "$target" = all ]; then
  for harness in "${harnesses[@]}"; do run_harness "$harness" || status=1; done
else
  run_harness "$target" || status=1
fi
exit $status
