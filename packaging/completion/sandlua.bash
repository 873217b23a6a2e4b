# bash completion for sandlua(1)                       -*- shell-script -*-
# Installed as $(DATADIR)/bash-completion/completions/sandlua.  The option
# lists are those of `sandlua --help` and `sandlua policy --help`
# (tests/integration/test_dist.py checks that they agree).

_sandlua_policy()
{
    local cur=$1 prev=$2 sub=$3
    case $prev in
        --policy|--junit)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --format)
            COMPREPLY=($(compgen -W 'tap json' -- "$cur")); return ;;
        --allow-url|--actor|--actor-meta|--meta|--ip|--run)
            return ;;
    esac
    if [[ -z $sub ]]; then
        COMPREPLY=($(compgen -W 'lint check test --help' -- "$cur"))
        return
    fi
    local opts=
    case $sub in
        lint)  opts='--allow-unknown --help' ;;
        check) opts='--policy --allow-url --actor --actor-meta --meta --ip
                     --allow-unknown --explain --help' ;;
        test)  opts='--policy --junit --run --format -v --allow-unknown
                     --help' ;;
    esac
    if [[ $cur == -* && -n $opts ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [[ $sub == check ]]; then
        COMPREPLY=($(compgen -W 'websocket.connect websocket.connect.url' \
                     -- "$cur"))
    else
        COMPREPLY=($(compgen -f -X '!*.@(yaml|yml)' -- "$cur"))
        compopt -o plusdirs 2>/dev/null
    fi
}

_sandlua()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local i w sub= policy=

    # After the script (the first operand) everything is the script's.
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ -n $policy ]]; then
            [[ -z $sub && $w != -* ]] && sub=$w
            continue
        fi
        case $w in
            --policy|--allow-url|--actor|--actor-meta|--audit-log|\
            --audit-log-max|--dns-server|--ca-file|--memory-limit|\
            --cpu-limit|--timeout|--instruction-limit|--max-connections|\
            --max-output|--module-path|--allow-read|--seccomp|-e|-l)
                ((i++)) ;;
            policy) ((i == 1)) && policy=1 || return ;;
            --|-) return ;;
            -*) ;;
            *) return ;;
        esac
    done
    if [[ -n $policy ]]; then
        _sandlua_policy "$cur" "$prev" "$sub"
        return
    fi

    case $prev in
        --policy|--audit-log|--ca-file)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --module-path)
            COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --allow-read)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --seccomp)
            COMPREPLY=($(compgen -W 'strict log off' -- "$cur")); return ;;
        --allow-url|--actor|--actor-meta|--audit-log-max|--dns-server|\
        --memory-limit|--cpu-limit|--timeout|--instruction-limit|\
        --max-connections|--max-output|-e|-l)
            return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W '-e -i -l -v -E -W -- -
            --policy --allow-url --actor --actor-meta --audit-log --audit-all
            --audit-log-max --dns-server --ca-file --memory-limit --cpu-limit
            --timeout --instruction-limit --max-connections --max-output
            --module-path --allow-read --allow-unknown --seccomp
            --unsafe-no-sandbox --help --version' \
            -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -f -X '!*.lua' -- "$cur"))
    compopt -o plusdirs 2>/dev/null
    ((COMP_CWORD == 1)) && COMPREPLY+=($(compgen -W policy -- "$cur"))
}
complete -F _sandlua sandlua
