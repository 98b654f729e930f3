# shellcheck shell=bash
# Official license texts (SPDX License List data) for tests/license/test_license_texts.py.
# The npm package spdx-license-list ships each text as licenses/<SPDX-ID>.json ("licenseText").
# Idempotent; needs npm.
_lt_dir="$(python -c 'import sys; print(sys.prefix)')/share/spdx-license-list"
if [ ! -s "$_lt_dir/licenses/MIT.json" ]; then
  mkdir -p "$_lt_dir"
  _lt_tmp="$(mktemp -d)"
  (
    cd "$_lt_tmp"
    npm pack --silent spdx-license-list@6.12.0 >/dev/null
    tar xzf spdx-license-list-6.12.0.tgz package/licenses
  )
  rm -rf "$_lt_dir/licenses"
  cp -r "$_lt_tmp/package/licenses" "$_lt_dir/licenses"
  rm -rf "$_lt_tmp"
fi
export MLGATE_SPDX_TEXTS="$_lt_dir/licenses"
unset _lt_dir _lt_tmp
