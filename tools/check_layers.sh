#!/usr/bin/env bash
# Checks that every include under proxy/ points down the layer order (README "Architecture"):
# a folder may include itself, the folders below it in this list, and config/. Prints each
# include that breaks the rule and exits 1 if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."

order=(base datapath protocol frontend upstream mirror ops top)  # lowest first
declare -A rank
for i in "${!order[@]}"; do rank[${order[$i]}]=$i; done

layer_of() {  # proxy/datapath/pipe.hpp -> datapath, proxy/session.hpp -> top
  local dir=${1%/*}
  [[ $dir == proxy ]] && echo top || echo "${dir#proxy/}"
}

bad=0
while IFS= read -r file; do
  from=$(layer_of "$file")
  [[ -n ${rank[$from]+x} ]] || { echo "check_layers.sh: $file: folder not in the layer list"; bad=1; continue; }
  while IFS= read -r included; do
    to=$(layer_of "$included")
    if [[ -z ${rank[$to]+x} || ( $to != "$from" && ${rank[$to]} -ge ${rank[$from]} ) ]]; then
      echo "check_layers.sh: $file includes $included ($from may not use $to)"
      bad=1
    fi
  done < <(sed -n 's|^#include "\(proxy/[^"]*\)".*|\1|p' "$file")
done < <(git ls-files 'proxy/*.cpp' 'proxy/*.hpp')
exit $bad
