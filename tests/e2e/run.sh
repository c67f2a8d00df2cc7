#!/usr/bin/env bash
# run.sh - end-to-end tests with Slack's official Node SDKs (@slack/web-api,
# @slack/rtm-api) against Parley, through node's built-in test runner.
#
#   tests/e2e/run.sh                 start a private stack (deploy/local/stack.py,
#                                    free ports, temp dir), run, stop it
#   PARLEY_URL=http://127.0.0.1:8080 PARLEY_ADMIN_TOKEN=… tests/e2e/run.sh
#                                    run against a running stack
#
# Installs tests/e2e/slack-sdk/node_modules with `npm ci` (from
# package-lock.json) when it is missing or older than the lock file.
# Ends with exactly one line "N passed, N failed" and exits non-zero if
# anything failed. Every step has a hard timeout.
#
#   PARLEY_BIN_DIR           binaries for a private stack (default build/bin)
#   PARLEY_E2E_TIMEOUT       seconds for the node tests (default 300)
#   PARLEY_E2E_FILTER        a node --test-name-pattern
#   PARLEY_TEST_KEEP=1       keep the private stack's directory
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
PY=/usr/bin/python3
E2E_NAME="e2e slack-sdk"
SDK=tests/e2e/slack-sdk
. tests/e2e/lib.sh
mkdir -p "$REPO/build"

# 1. node and the npm packages
e2e_npm_ci "$SDK" "$REPO/build/e2e-npm.log" @slack/web-api @slack/rtm-api

# 2. a stack: the caller's, or a private one
e2e_stack parley-e2e

# 3. the tests
e2e_node "$SDK" "${PARLEY_E2E_TIMEOUT:-300}" "$REPO/build/e2e-node.log" "" \
	web-api.test.js rtm-api.test.js
