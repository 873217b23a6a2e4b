# bash completion for sandlua (installed as
# DATADIR/bash-completion/completions/sandlua).  The option lists are held
# to `sandlua --help` and `sandlua policy CMD --help` by
# tests/integration/test_dist.py.

_sandlua_opts="--actor --actor-meta --allow-read --allow-unknown --allow-url
  --audit-all --audit-log --audit-log-max --ca-file --cpu-limit --dns-server
  --help --instruction-limit --max-connections --max-output --memory-limit
  --module-path --policy --seccomp --timeout --unsafe-no-sandbox --version
  -e -i -l -v -E -W"
_sandlua_lint_opts="--allow-unknown --help"
_sandlua_check_opts="--actor --actor-meta --allow-unknown --allow-url --help
  --ip --meta --policy"
_sandlua_test_opts="--allow-unknown --format --help --junit --policy --run -v"

_sandlua() {
  local cur prev words cword
  COMPREPLY=()
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD-1]}
  # sandlua policy lint|check|test ...
  if [ "${COMP_WORDS[1]}" = policy ]; then
    if [ "$COMP_CWORD" -eq 2 ]; then
      COMPREPLY=($(compgen -W "lint check test --help" -- "$cur"))
      return
    fi
    case $prev in
      --policy|--junit) COMPREPLY=($(compgen -f -- "$cur")); return ;;
      --format) COMPREPLY=($(compgen -W "tap json" -- "$cur")); return ;;
      --actor|--actor-meta|--meta|--ip|--allow-url|--run) return ;;
    esac
    local opts
    case ${COMP_WORDS[2]} in
      lint) opts=$_sandlua_lint_opts ;;
      check) opts=$_sandlua_check_opts
        [[ $cur != -* ]] && opts="$opts websocket.connect websocket.connect.url" ;;
      test) opts=$_sandlua_test_opts ;;
    esac
    if [[ $cur == -* || ${COMP_WORDS[2]} = check ]]; then
      COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
      COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return
  fi
  case $prev in
    --policy|--audit-log|--ca-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --module-path) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --allow-read) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --seccomp) COMPREPLY=($(compgen -W "strict log off" -- "$cur")); return ;;
    --actor|--actor-meta|--allow-url|--audit-log-max|--cpu-limit|--dns-server|\
    --instruction-limit|--max-connections|--max-output|--memory-limit|\
    --timeout|-e|-l) return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$_sandlua_opts" -- "$cur"))
  elif [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "policy" -- "$cur") $(compgen -f -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _sandlua sandlua
