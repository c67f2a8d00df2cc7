#!/usr/bin/env bash
# run.sh - the web client (web/) in a real browser: Debian's chromium driven
# by playwright-core (npm, no browser download), through node's test runner.
#
#   tests/e2e/web/run.sh            start a private stack (deploy/local/stack.py
#                                   run --free-ports --no-seed, temp dir), run, stop it
#   PARLEY_URL=http://127.0.0.1:8080 PARLEY_ADMIN_TOKEN=… tests/e2e/web/run.sh
#                                   run against a running stack (its gateway must
#                                   serve this tree's web/)
#
# Needs /usr/bin/chromium (apt-get install -y chromium; PARLEY_CHROMIUM=… for
# another binary). Installs node_modules with `npm ci` when missing or older
# than package-lock.json. Screenshots: build/web-e2e-*.png. Ends with exactly
# one line "N passed, N failed"; exits non-zero if anything failed.
#
#   PARLEY_BIN_DIR           binaries for a private stack (default build/bin)
#   PARLEY_E2E_TIMEOUT       seconds for the node tests (default 120)
#   PARLEY_E2E_FILTER        a node --test-name-pattern
#   PARLEY_TEST_KEEP=1       keep the private stack's directory
#   PARLEY_E2E_TRACE=1       log each page's requests and WebSocket frames with times
set -uo pipefail
cd "$(dirname "$0")/../../.."
REPO=$PWD
PY=/usr/bin/python3
E2E_NAME="e2e web"
DIR=tests/e2e/web
CHROMIUM=${PARLEY_CHROMIUM:-/usr/bin/chromium}
. tests/e2e/lib.sh
mkdir -p "$REPO/build"

# 1. node, the browser, the npm package
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing (apt-get install -y chromium)"
e2e_npm_ci "$DIR" "$REPO/build/e2e-web-npm.log" playwright-core

# 2. a stack: the caller's, or a private one (its gateway serves $REPO/web)
e2e_stack parley-e2e-web
export PARLEY_CHROMIUM="$CHROMIUM"

# 3. the tests
e2e_node "$DIR" "${PARLEY_E2E_TIMEOUT:-120}" "$REPO/build/e2e-web.log" \
	"; screenshots build/web-e2e-*.png" web.test.js
