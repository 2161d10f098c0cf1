# bash completion for nvmeoe and nvmeoe-target (installed by scripts/install.sh into
# share/bash-completion/completions). Commands and options come from the programs' own help, so
# they never drift from the build; devices from the run directory, interfaces from /sys/class/net.

_nvmeoe_words_from_help() {
  # Options of `$@ --help`: every -x and --long-name at the start of an option line.
  "$@" --help 2>/dev/null | grep -oE '^ +(-[a-zA-Z0-9],)?(--[a-zA-Z0-9][-a-zA-Z0-9]*,?)+|^ +-[a-zA-Z0-9]' |
    tr ',' '\n' | tr -d ' '
}

_nvmeoe_devices() {
  local dir=${NVMEOE_RUN_DIR:-/run/nvmeoe} s c
  for s in "$dir"/nvmeoe*.sock; do
    [ -e "$s" ] || continue
    c=$(basename "$s" .sock)
    echo "$c"
  done
}

_nvmeoe() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} prog=${COMP_WORDS[0]}
  local cmd="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      -*) ;;
      *) cmd=${COMP_WORDS[i]}; break ;;
    esac
  done
  COMPREPLY=()
  if [ -z "$cmd" ]; then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "--help --version" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -W "$("$prog" help 2>/dev/null | awk '/implemented sub-commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}')" -- "$cur")
    fi
    return 0
  fi
  case $prev in
    -f | --host-iface)
      mapfile -t COMPREPLY < <(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur")
      return 0 ;;
    -t | --transport) COMPREPLY=(eth); return 0 ;;
    -o | --output-format) mapfile -t COMPREPLY < <(compgen -W "normal json binary" -- "$cur"); return 0 ;;
    --frontend) mapfile -t COMPREPLY < <(compgen -W "auto ublk fuse none" -- "$cur"); return 0 ;;
    --link) mapfile -t COMPREPLY < <(compgen -W "packet af_xdp" -- "$cur"); return 0 ;;
    -d | --data | --mountpoint) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return 0 ;;
  esac
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_nvmeoe_words_from_help "$prog" "$cmd")" -- "$cur")
    return 0
  fi
  case $cmd in
    help) mapfile -t COMPREPLY < <(compgen -W "$("$prog" help 2>/dev/null | awk '/implemented sub-commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}')" -- "$cur") ;;
    disconnect | list-subsys | stats | id-ctrl | id-ns | list-ns | list-ctrl | smart-log | error-log | fw-log | \
      get-log | get-feature | set-feature | show-regs | read | write | flush | write-zeroes | dsm)
      local devs d
      devs=$(_nvmeoe_devices)
      for d in $devs; do devs+=" $d"n1; done
      mapfile -t COMPREPLY < <(compgen -W "$devs" -- "$cur") ;;
    *) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
  esac
  return 0
}

_nvmeoe_target() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()
  case $prev in
    --iface) mapfile -t COMPREPLY < <(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur"); return 0 ;;
    --link) mapfile -t COMPREPLY < <(compgen -W "packet af_xdp" -- "$cur"); return 0 ;;
    --log-level) mapfile -t COMPREPLY < <(compgen -W "error warn info debug" -- "$cur"); return 0 ;;
    --tx-thread) mapfile -t COMPREPLY < <(compgen -W "auto on off" -- "$cur"); return 0 ;;
  esac
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_nvmeoe_words_from_help "${COMP_WORDS[0]}")" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  fi
  return 0
}

complete -F _nvmeoe nvmeoe
complete -F _nvmeoe_target nvmeoe-target
