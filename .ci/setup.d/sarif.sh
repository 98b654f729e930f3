# shellcheck shell=bash
# SARIF 2.1.0 JSON schema (OASIS sarif-2.1.0-rtm.5) for tests/render/test_sarif.py.
# It is not on PyPI; the npm package @microsoft/jest-sarif ships it. Idempotent; needs npm.
_sarif_dir="$(python -c 'import sys; print(sys.prefix)')/share/sarif"
_sarif_schema="$_sarif_dir/sarif-2.1.0-rtm.5.json"
if [ ! -s "$_sarif_schema" ]; then
  mkdir -p "$_sarif_dir"
  _sarif_tmp="$(mktemp -d)"
  (
    cd "$_sarif_tmp"
    npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null
    tar xzf microsoft-jest-sarif-1.0.0-beta.0.tgz package/lib/schemas/sarif-2.1.0-rtm.5.json
  )
  cp "$_sarif_tmp/package/lib/schemas/sarif-2.1.0-rtm.5.json" "$_sarif_schema"
  rm -rf "$_sarif_tmp"
fi
export MLGATE_SARIF_SCHEMA="$_sarif_schema"
unset _sarif_dir _sarif_schema _sarif_tmp
