#!/usr/bin/env bash
# Fails, listing them, when C++ sources of the project differ from what .clang-format
# makes of them. Fix with: clang-format -i <file>...
set -uo pipefail
cd "$(dirname "$0")/../.."
unformatted=()
while IFS= read -r -d '' file; do
    clang-format --dry-run --Werror "$file" >/dev/null 2>&1 || unformatted+=("$file")
done < <(find app engine ui tests \( -path tests/data -prune \) -o \( -name '*.cpp' -o -name '*.h' \) -type f -print0 | sort -z)
if [ ${#unformatted[@]} -gt 0 ]; then
    echo "not formatted with .clang-format (${#unformatted[@]} files):"
    printf '  %s\n' "${unformatted[@]}"
    exit 1
fi
echo "all C++ sources formatted"
