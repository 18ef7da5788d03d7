#!/usr/bin/env bash
# Builds the reference K-quant quantizer for make_quant_reference.py: llama.cpp's own
# ggml/src/ggml-quants.c (the copy vendored in the llama-cpp-python sdist from PyPI, which has no
# binary wheel for Linux) compiled standalone with a small driver that reads float32 256-blocks
# on stdin and writes quantize_row_q4_K_ref's then quantize_row_q6_K_ref's bytes on stdout.
# (tar wildcards match "/": src/*.h includes src/ggml-cpu/ggml-cpu-impl.h.)
# Nothing of llama.cpp is kept in the repository; only the bytes it produces are committed.
#
#   scripts/reference/build_ggml_quant_driver.sh DIR [PIP]   # DIR/driver; PIP defaults to pip3
#
# Needs gcc and network access to PyPI; takes about 20 s (a 75 MB download, one C file).
set -euo pipefail
dir=${1:?usage: build_ggml_quant_driver.sh DIR [PIP]}
pip=${2:-pip3}
version=0.3.36
mkdir -p "$dir"
cd "$dir"
[ -f "llama_cpp_python-$version.tar.gz" ] ||
  "$pip" download --quiet --no-binary llama-cpp-python --no-deps "llama-cpp-python==$version" -d .
src=llama_cpp_python-$version/vendor/llama.cpp/ggml
tar xzf "llama_cpp_python-$version.tar.gz" --wildcards "$src/src/*.h" "$src/src/ggml-quants.c" "$src/include/*"
cat > driver.c <<'C'
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
void quantize_row_q4_K_ref(const float * x, void * y, int64_t k);
void quantize_row_q6_K_ref(const float * x, void * y, int64_t k);
// Symbols ggml-quants.c references outside the reference quantizers; never called here.
void ggml_abort(const char * file, int line, const char * fmt, ...) { abort(); }
size_t ggml_row_size(int type, int64_t ne) { abort(); }
const char * ggml_type_name(int type) { abort(); }
size_t ggml_type_size(int type) { abort(); }
int main(int argc, char ** argv) {
    int n = argc > 1 ? atoi(argv[1]) : 0;
    float * x = malloc(sizeof(float) * 256 * n);
    unsigned char * q4 = malloc(144 * n), * q6 = malloc(210 * n);
    if (n <= 0 || fread(x, sizeof(float), 256 * n, stdin) != (size_t)(256 * n)) return 1;
    quantize_row_q4_K_ref(x, q4, 256 * n);
    quantize_row_q6_K_ref(x, q6, 256 * n);
    fwrite(q4, 1, 144 * n, stdout);
    fwrite(q6, 1, 210 * n, stdout);
    return 0;
}
C
# No -march: the portable scalar path, no FMA contraction, software fp16 rounding (to nearest even).
gcc -O2 -std=c11 -w -I "$src/include" -I "$src/src" -c "$src/src/ggml-quants.c" -o ggml-quants.o
gcc -O2 -w driver.c ggml-quants.o -lm -o driver
echo "$dir/driver"
