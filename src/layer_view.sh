#!/bin/sh
# layer_view.sh SRC DIR LAYER... — makes DIR an include root holding only the
# given layers of SRC (a symlink each), so that a library compiled with -IDIR
# cannot include a header of a layer above it (src/meson.build, ARCHITECTURE.md).
set -eu
src=$1 dir=$2
shift 2
rm -rf "$dir"
mkdir -p "$dir"
for layer in "$@"; do
  ln -s "$src/$layer" "$dir/$layer"
done
