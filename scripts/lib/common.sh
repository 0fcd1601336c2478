# Shared helpers for the scripts in scripts/. Source it; it defines functions only (and ROOT).
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_debian_root() { [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; }

# ensure_debian_packages CMD:PACKAGE ... — installs PACKAGE when CMD (a command name, or a
# path such as /usr/bin/chromium, or pkgconfig:NAME) is missing. Off Debian-as-root it says
# what to install and fails.
ensure_debian_packages() {
  local missing=() spec cmd pkg
  for spec in "$@"; do
    cmd="${spec%%:*}"; pkg="${spec#*:}"
    if [[ "$cmd" == pkgconfig ]]; then
      pkg="${spec#pkgconfig:}"; cmd="${pkg%%=*}"; pkg="${pkg#*=}"
      pkg-config --exists "$cmd" 2>/dev/null && continue
    elif [[ "$cmd" == /* ]]; then
      [[ -x "$cmd" ]] && continue
    else
      command -v "$cmd" >/dev/null 2>&1 && continue
    fi
    missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  if is_debian_root; then
    log "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    die "missing system packages: ${missing[*]} (on Debian: sudo apt-get install ${missing[*]})"
  fi
}

require_tools() {
  command -v cargo >/dev/null 2>&1 || die "cargo is missing: install Rust with rustup (https://rustup.rs)"
  command -v node >/dev/null 2>&1 || die "node is missing: install Node.js 20 or newer"
  command -v npm >/dev/null 2>&1 || die "npm is missing: install Node.js 20 or newer (it ships npm)"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  ((major >= 20)) || die "Node.js $major is too old: 20 or newer is needed"
}

# npm_install_if_needed DIR — installs DIR's dependencies when node_modules is missing or older
# than package.json. Lock files are kept out of the repository (see the .npmrc files).
npm_install_if_needed() {
  local dir="$1"
  if [[ ! -d "$dir/node_modules" || "$dir/package.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
    log "npm install in ${dir#"$ROOT"/}"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
  fi
}

# Everything both README commands need: system packages, the wasm target, the wasm package.
ensure_base() {
  require_tools
  ensure_debian_packages pkg-config:pkg-config pkgconfig:openssl=libssl-dev /usr/bin/chromium:chromium redis-server:redis-server gzip:gzip
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

# ensure_python_venv DIR PACKAGE==VERSION... — a Python virtual environment in DIR (under target/,
# never the system's Python) with exactly these pinned packages; installs only what differs.
# Needs python3 with the venv module (Debian: python3-venv), which it installs on Debian-as-root.
ensure_python_venv() {
  local dir="$1"; shift
  ensure_debian_packages python3:python3
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if is_debian_root; then
      log "installing Debian packages: python3-venv"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
      die "python3 has no venv module (on Debian: sudo apt-get install python3-venv)"
    fi
  fi
  if [[ ! -x "$dir/bin/python" ]]; then
    log "creating a Python venv in ${dir#"$ROOT"/}"
    python3 -m venv "$dir" || die "python3 -m venv $dir failed"
  fi
  local want=() spec name version have
  for spec in "$@"; do
    name="${spec%%==*}"; version="${spec#*==}"
    have="$("$dir/bin/python" -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null || true)"
    [[ "$have" == "$version" ]] || want+=("$spec")
  done
  ((${#want[@]} == 0)) && return 0
  log "pip install ${want[*]} (into ${dir#"$ROOT"/})"
  "$dir/bin/python" -m pip install --disable-pip-version-check --quiet "${want[@]}" \
    || die "pip install ${want[*]} failed"
}

# ---- Fuzzing (fuzz/, cargo-fuzz + libFuzzer)
CARGO_FUZZ_VERSION=0.13.2

# ensure_cargo_fuzz — installs cargo-fuzz $CARGO_FUZZ_VERSION when it is missing or another
# version (built from source by cargo; about 2 minutes, once per machine).
ensure_cargo_fuzz() {
  if [[ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" || return 1
  fi
}

# fuzz_cargo ARGS... — runs `cargo ARGS` with the toolchain the fuzz targets build with.
# libFuzzer builds need unstable flags (-Zsanitizer). The default is the project's pinned
# stable toolchain with RUSTC_BOOTSTRAP=1, which every machine that builds the project has;
# SWITCHYARD_FUZZ_TOOLCHAIN=nightly uses an installed nightly instead.
fuzz_cargo() {
  case "${SWITCHYARD_FUZZ_TOOLCHAIN:-stable}" in
    stable) RUSTC_BOOTSTRAP=1 cargo "$@" ;;
    nightly)
      rustup toolchain list | grep -q '^nightly' ||
        die "SWITCHYARD_FUZZ_TOOLCHAIN=nightly, but no nightly toolchain is installed (rustup toolchain list)"
      cargo +nightly "$@"
      ;;
    *) die "SWITCHYARD_FUZZ_TOOLCHAIN must be stable or nightly, not '$SWITCHYARD_FUZZ_TOOLCHAIN'" ;;
  esac
}
