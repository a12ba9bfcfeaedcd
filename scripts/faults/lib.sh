# Shared by the fault scripts: builds (or finds) the binaries once.
#
#   LIAISON_FAULTS_BUILD=release (default) | debug
#
# Full runs use a release build; .ci/run's short runs reuse the debug build
# it has just made (LIAISON_FAULTS_BUILD=debug) rather than building twice.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
config="${LIAISON_FAULTS_BUILD:-release}"
if [ "$config" = release ]; then
  mkdir -p .build
  for product in liaison LiaisonFaults; do
    swift build -c release --product "$product" > ".build/faults-build-$product.log" 2>&1 ||
      { grep -E "error" ".build/faults-build-$product.log" >&2; echo "faults: the release build of $product failed" >&2; exit 1; }
  done
fi
bin="$(swift build -c "$config" --show-bin-path)"
[ -x "$bin/liaison" ] && [ -x "$bin/LiaisonFaults" ] || { echo "faults: no $config build in $bin (swift build -c $config)" >&2; exit 1; }
# Line-buffered: each line of the report shows as it is made, also in a log.
faults() { stdbuf -oL "$bin/LiaisonFaults" "$@" --liaison "$bin/liaison"; }
