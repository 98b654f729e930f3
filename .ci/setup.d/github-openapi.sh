# shellcheck shell=bash
# GitHub's published OpenAPI description (npm @octokit/openapi) and real webhook payloads
# (npm @octokit/webhooks-examples) for the contract tests in tests/platforms/test_contract.py.
# Sourced by .ci/run with the venv active; idempotent; needs npm (the npm registry only).
_gh_dir="$(python -c 'import sys; print(sys.prefix)')/share/octokit"
_gh_spec="$_gh_dir/api.github.com.json"
_gh_hooks="$_gh_dir/webhooks-examples.json"
if [ ! -s "$_gh_spec" ] || [ ! -s "$_gh_hooks" ]; then
  mkdir -p "$_gh_dir"
  _gh_tmp="$(mktemp -d)"
  (
    cd "$_gh_tmp"
    npm pack --silent @octokit/openapi@23.0.2 @octokit/webhooks-examples@7.6.1 >/dev/null
    tar xzf octokit-openapi-23.0.2.tgz package/generated/api.github.com.json
    tar xzf octokit-webhooks-examples-7.6.1.tgz package/api.github.com/index.json
  )
  cp "$_gh_tmp/package/generated/api.github.com.json" "$_gh_spec"
  cp "$_gh_tmp/package/api.github.com/index.json" "$_gh_hooks"
  rm -rf "$_gh_tmp"
fi
export MLGATE_GITHUB_OPENAPI="$_gh_spec" MLGATE_GITHUB_WEBHOOKS="$_gh_hooks"
unset _gh_dir _gh_spec _gh_hooks _gh_tmp
