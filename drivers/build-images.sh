#!/usr/bin/env bash
# Build every image recipe under drivers/images/ (each one's build.sh); pass --force to rebuild.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! docker info >/dev/null 2>&1; then
    echo "build-images: no Docker engine answers; run drivers/start-docker.sh first" >&2
    exit 1
fi

for recipe in "$here"/images/*/build.sh; do
    echo "build-images: $(basename "$(dirname "$recipe")")"
    bash "$recipe" "$@"
done
