#!/usr/bin/env bash
# Installs what the project needs beyond npm: the temporal CLI (dev server + Web UI) and versitygw
# (an S3-compatible server for the S3 tests).
# Idempotent and fast once done. Order: $TEMPORAL_CLI_PATH or `temporal` on PATH, then the
# user-level cache, then `go install` of the pinned release, then the official release download.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_VERSION="1.5.1"
CACHE_BIN="${XDG_CACHE_HOME:-$HOME/.cache}/temporal-batch-gateway/bin"
LOCAL_BIN=".tools/bin"
mkdir -p "$LOCAL_BIN" "$CACHE_BIN"

link() {
  ln -sf "$1" "$LOCAL_BIN/temporal"
  echo "temporal CLI: $1 ($("$1" --version 2>/dev/null | head -n1))"
}

if [ ! -d node_modules ]; then
  echo "installing npm dependencies…"
  npm install --no-audit --no-fund
fi

# The Python packages of the Python tests, in a venv at .venv: the official openai client
# (test/openai-python-client.test.ts), the Temporal Python SDK, temporalio
# (test/temporal-python-sdk.test.ts), and the OpenAPI fuzzer schemathesis
# (test/openapi-fuzz.test.ts). Not needed to run the product, so a failure here warns instead of
# stopping.
PY_PACKAGES="openai temporalio schemathesis"
py_versions() {
  .venv/bin/python -c 'from importlib.metadata import version; import openai, temporalio, schemathesis; print("openai", version("openai") + ", temporalio", version("temporalio") + ", schemathesis", version("schemathesis"))'
}
if ! command -v python3 >/dev/null 2>&1; then
  echo "python3 not found: the Python client tests will fail until python3 (with venv) is installed and npm run setup is re-run" >&2
elif [ -x .venv/bin/python ] && v="$(py_versions 2>/dev/null)"; then
  echo "Python packages: .venv ($v)"
else
  echo "installing $PY_PACKAGES into .venv…"
  # shellcheck disable=SC2086 # the package list is split on purpose
  if { [ -x .venv/bin/python ] || python3 -m venv .venv; } && .venv/bin/pip install --quiet $PY_PACKAGES; then
    echo "Python packages: .venv ($(py_versions))"
  else
    echo "could not install $PY_PACKAGES into .venv (python3 -m venv needs the venv module, e.g. apt-get install python3-venv); the Python client tests will fail" >&2
  fi
fi

# versitygw (Apache-2.0), the real S3-compatible server of the S3 tests and of local S3 use
# (src/storage/versitygw.ts): $VERSITYGW_PATH or `versitygw` on PATH, else built once with
# go install into the same cache as the temporal CLI. Only the S3 tests need it, so a failure
# here warns instead of stopping.
VERSITYGW_VERSION="1.8.0"
link_versitygw() {
  ln -sf "$1" "$LOCAL_BIN/versitygw"
  echo "versitygw: $1${2:+ (v$2)}"
}
if [ -n "${VERSITYGW_PATH:-}" ] && [ -x "$VERSITYGW_PATH" ]; then link_versitygw "$VERSITYGW_PATH"
elif command -v versitygw >/dev/null 2>&1; then link_versitygw "$(command -v versitygw)"
# `go install` builds carry no version of their own: a stamp file beside the binary says which.
elif [ -x "$CACHE_BIN/versitygw" ] && [ "$(cat "$CACHE_BIN/versitygw.version" 2>/dev/null)" = "$VERSITYGW_VERSION" ]; then
  link_versitygw "$CACHE_BIN/versitygw" "$VERSITYGW_VERSION"
elif command -v go >/dev/null 2>&1; then
  echo "building versitygw v$VERSITYGW_VERSION with go install (about 2 minutes, once)…"
  if GOBIN="$CACHE_BIN" GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@v$VERSITYGW_VERSION"; then
    echo "$VERSITYGW_VERSION" >"$CACHE_BIN/versitygw.version"
    link_versitygw "$CACHE_BIN/versitygw" "$VERSITYGW_VERSION"
  else
    echo "go install of versitygw failed: the S3 tests will fail until npm run setup succeeds" >&2
  fi
else
  echo "Go not found: cannot build versitygw, so the S3 tests will fail (install Go, or set VERSITYGW_PATH)" >&2
fi

# The Temporal server itself (MIT) and its SQL schema tool, for the cluster tests on PostgreSQL
# (test/harness/temporal-cluster.ts): built once with go install into a versioned cache folder;
# the schemas come from the Go module cache. PostgreSQL from the distribution when initdb/pg_ctl
# are missing. Only the cluster tests need them, so a failure here warns instead of stopping.
TEMPORAL_SERVER_VERSION="1.29.1"
SERVER_BIN="${XDG_CACHE_HOME:-$HOME/.cache}/temporal-batch-gateway/temporal-server-$TEMPORAL_SERVER_VERSION/bin"
if [ -x "$SERVER_BIN/server" ] && [ -x "$SERVER_BIN/sql" ]; then
  echo "temporal server: $SERVER_BIN/server (v$TEMPORAL_SERVER_VERSION)"
elif command -v go >/dev/null 2>&1; then
  echo "building the temporal server v$TEMPORAL_SERVER_VERSION and its sql tool with go install (about 3 minutes, once)…"
  if GOBIN="$SERVER_BIN" GOFLAGS=-buildvcs=false go install \
    "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" \
    "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION"; then
    echo "temporal server: $SERVER_BIN/server (v$TEMPORAL_SERVER_VERSION)"
  else
    echo "go install of the temporal server failed: the cluster tests will fail until npm run setup succeeds" >&2
  fi
else
  echo "Go not found: cannot build the temporal server, so the cluster tests will fail" >&2
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing PostgreSQL (apt-get install postgresql)…"
    # No cluster is wanted from the package: the tests initdb their own.
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >/dev/null; then
      echo "apt-get install postgresql failed: the cluster tests will fail" >&2
    fi
  else
    echo "PostgreSQL not found (initdb, pg_ctl): the cluster tests will fail until it is installed (apt-get install postgresql)" >&2
  fi
fi
if pg="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)" && [ -n "$pg" ]; then
  echo "PostgreSQL: $pg ($("$pg/postgres" --version))"
fi

# Debian's Chromium, for the console's browser tests (test/console/, driven by playwright-core
# with executablePath /usr/bin/chromium or $CHROMIUM_PATH; no Playwright browser download). Only
# those tests need it, so a failure here warns instead of stopping.
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  echo "Chromium: $CHROMIUM"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Chromium (apt-get install chromium)…"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; }; }; then
    echo "apt-get install chromium failed: the console's browser tests will fail" >&2
  fi
else
  echo "Chromium not found at $CHROMIUM: the console's browser tests will fail until it is installed (apt-get install chromium) or CHROMIUM_PATH names one" >&2
fi

if [ -n "${TEMPORAL_CLI_PATH:-}" ] && [ -x "$TEMPORAL_CLI_PATH" ]; then link "$TEMPORAL_CLI_PATH"; exit 0; fi
if command -v temporal >/dev/null 2>&1; then link "$(command -v temporal)"; exit 0; fi
if [ -x "$CACHE_BIN/temporal" ]; then link "$CACHE_BIN/temporal"; exit 0; fi

if command -v go >/dev/null 2>&1; then
  echo "building the temporal CLI v$TEMPORAL_VERSION with go install (a few minutes, once)…"
  # Later releases carry a `replace` directive and cannot be `go install`ed.
  if GOBIN="$CACHE_BIN" GOFLAGS=-buildvcs=false go install "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_VERSION"; then
    link "$CACHE_BIN/temporal"
    exit 0
  fi
  echo "go install failed; trying the release download" >&2
fi

os="$(uname -s | tr '[:upper:]' '[:lower:]')"
arch="$(uname -m)"; case "$arch" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
url="https://github.com/temporalio/cli/releases/download/v${TEMPORAL_VERSION}/temporal_cli_${TEMPORAL_VERSION}_${os}_${arch}.tar.gz"
echo "downloading $url…"
tmp="$(mktemp -d)"
curl -fsSL "$url" -o "$tmp/temporal.tgz"
tar -xzf "$tmp/temporal.tgz" -C "$tmp"
install -m 0755 "$tmp/temporal" "$CACHE_BIN/temporal"
rm -rf "$tmp"
link "$CACHE_BIN/temporal"
