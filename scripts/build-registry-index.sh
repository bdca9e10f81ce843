#!/usr/bin/env bash
# Rebuild registry_index/ (the bundled default index) from manifests/ with
# fleetprompt itself: publish every version, yank what manifests/YANKED lists,
# and set the maintainer flags of the spec's featured/verified packages.
# Run from the repository root: bash scripts/build-registry-index.sh
set -euo pipefail
cd "$(dirname "$0")/.."
fleetprompt=${FLEETPROMPT:-.venv/bin/fleetprompt}
rm -rf registry_index
"$fleetprompt" publish manifests/*/*/ --index registry_index
while read -r slug version; do
  [ -n "$slug" ] && "$fleetprompt" yank "$slug" "$version" --index registry_index
done < manifests/YANKED
"$fleetprompt" index flag field-service --featured --verified --index registry_index
"$fleetprompt" index flag customer-support --featured --verified --index registry_index
"$fleetprompt" index flag sales-automation --no-featured --no-verified --index registry_index
"$fleetprompt" index flag core-skills --verified --index registry_index
