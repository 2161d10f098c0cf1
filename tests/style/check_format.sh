#!/usr/bin/env bash
# Every C++ file of the tree is formatted as .clang-format says (Google style, 120 columns):
# prints the files that are not, with the first lines clang-format would change, and fails.
# Fix with:  clang-format -i FILE...   (tests/run-all.sh runs this check)
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CF=${CLANG_FORMAT:-}
if [ -z "$CF" ]; then
  for c in clang-format clang-format-14 clang-format-15 clang-format-16; do
    command -v "$c" >/dev/null 2>&1 && CF=$c && break
  done
fi
[ -n "$CF" ] || { echo "check_format: clang-format is not installed (scripts/install-deps.sh installs it)"; exit 2; }
cd "$REPO" || exit 2
mapfile -t files < <(find include src tools tests bench -type f \( -name '*.cc' -o -name '*.h' \) | sort)
bad=0
for f in "${files[@]}"; do
  if ! "$CF" --dry-run -Werror "$f" >/dev/null 2>&1; then
    bad=$((bad + 1))
    echo "not formatted: $f"
    "$CF" "$f" | diff -u "$f" - | sed -n '3,12p'
  fi
done
echo "$(("${#files[@]}" - bad)) of ${#files[@]} C++ files formatted as .clang-format says ($CF)"
[ "$bad" = 0 ]
