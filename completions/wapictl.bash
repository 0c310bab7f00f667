# bash completion for wapictl(1).
# Installed as completions/wapictl in bash-completion's directory; it needs
# nothing from bash-completion itself, so it can also be sourced directly.
# The lists below follow src/wapictl/*.c: tests/docs.bats checks them.
# wapictl's options may also follow the command (for lock, only before the
# command it runs), so they are offered there too.

_wapictl_commands='status handles waits validate lock clean stop help'
_wapictl_global_opts='-d --dir -H --host -A --all-hosts -J --json -q --quiet
	-h --help -V --version'
_wapictl_status_opts='-o --output -r --raw -n --noheadings -l --notruncate
	-v --verbose'
_wapictl_handles_opts='-o --output -r --raw -n --noheadings -l --notruncate
	-t --type -p --holder --name'
_wapictl_validate_opts='-v --verbose'
_wapictl_lock_opts='-w --wait --timeout'
_wapictl_clean_opts='-n --dry-run --older-than --force-host --no-syslog -v
	--verbose'
_wapictl_stop_opts='-w --wait --kill --no-syslog'
_wapictl_help_opts=''
_wapictl_waits_opts='-o --output -r --raw -n --noheadings'
_wapictl_status_columns='PATH HOST ABI VERDICT REASON HELPER HELPER-ALIVE
	CLIENTS HANDLES SIZE AGE HEARTBEAT LOCK BOOT PLACE SEGMENT SEG-SIZE
	SEG-RSS EVENTS MUTEXES SEMAPHORES FILES PIPES SOCKETS PROCESSES APPARENT
	CLIENTS-LIVE CLIENTS-RECORDED HANDLES-USED HANDLES-CAPACITY HELPER-STATE'
_wapictl_handles_columns='HANDLE SLOT GEN TYPE REFS NAME SIGNALLED OWNER
	WAITERS CHANGED DETAILS HOST PATH HOLDERS OWNED'
_wapictl_waits_columns='PID TID WAIT SINCE TIMEOUT COUNT OBJECTS OWNERS STATE
	HOST PATH'
_wapictl_types='event mutex semaphore file pipe socket process'

# The state directory wapictl would use (-d, else the environment).
_wapictl_dir()
{
	local i
	for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
		case ${COMP_WORDS[i]} in
		-d|--dir)
			printf '%s\n' "${COMP_WORDS[i+1]}"
			return
			;;
		--dir=*)
			printf '%s\n' "${COMP_WORDS[i]#--dir=}"
			return
			;;
		esac
	done
	if [[ -n ${WAPI_SHARED_DIR-} ]]; then
		printf '%s\n' "$WAPI_SHARED_DIR/.wapi"
	elif [[ -n ${MONO_SHARED_DIR-} ]]; then
		printf '%s\n' "$MONO_SHARED_DIR/.wapi"
	else
		printf '%s\n' "$HOME/.wapi"
	fi
}

# Host names of the state files in the directory: <host>.<abi>.state.
_wapictl_hosts()
{
	local dir f h
	dir=$(_wapictl_dir)
	for f in "$dir"/*.state; do
		[[ -f $f ]] || continue
		h=${f##*/}
		h=${h%.state}
		printf '%s\n' "${h%.*}"
	done
}

# The argument of -d or -H, wherever it stands; false when prev is neither.
_wapictl_global_arg()
{
	case $prev in
	-d|--dir)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		compopt -o filenames 2>/dev/null
		;;
	-H|--host)
		mapfile -t COMPREPLY < <(compgen -W "$(_wapictl_hosts)" -- "$cur")
		;;
	*)
		return 1
		;;
	esac
}

# Complete one element of a comma-separated list: "$1" holds the words,
# "$2" the current word; a leading + (add to the default columns) is kept.
_wapictl_list()
{
	local words=$1 cur=$2 head='' plus=''
	if [[ $cur == +* ]]; then
		plus=+
		cur=${cur#+}
	fi
	if [[ $cur == *,* ]]; then
		head=${cur%,*},
		cur=${cur##*,}
	fi
	mapfile -t COMPREPLY < <(compgen -P "$plus$head" -W "$words" -- "${cur^^}")
	[[ ${#COMPREPLY[@]} -eq 0 ]] &&
	    mapfile -t COMPREPLY < <(compgen -P "$plus$head" -W "$words" -- "$cur")
	# More may follow a comma: do not end the word with a space.
	compopt -o nospace 2>/dev/null
}

_wapictl()
{
	local cur prev cmd='' i cmdi=0
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD-1]}
	# bash splits "--opt=value" at "=" (COMP_WORDBREAKS).
	if [[ $cur == = ]]; then
		cur=
		# prev is already the option before "=".
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		prev=${COMP_WORDS[COMP_CWORD-2]}
	fi

	# The command is the first word that is neither an option nor the
	# argument of -d or -H.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-d|-H|--dir|--host)
			((i++))
			;;
		=)
			;;
		-*)
			;;
		*)
			if [[ ${COMP_WORDS[i-1]} != = ]]; then
				cmd=${COMP_WORDS[i]}
				cmdi=$i
				break
			fi
			;;
		esac
	done

	if [[ -z $cmd ]]; then
		_wapictl_global_arg && return
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$_wapictl_global_opts" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$_wapictl_commands" -- "$cur")
		fi
		return
	fi

	# lock looks for its command first: what follows it is the command's.
	[[ $cmd != lock ]] && _wapictl_global_arg && return
	case $cmd in
	help)
		if [[ $cur != -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$_wapictl_commands" -- "$cur")
			return
		fi
		;;
	status|handles)
		case $prev in
		-o|--output)
			if [[ $cmd == status ]]; then
				_wapictl_list "$_wapictl_status_columns" "$cur"
			else
				_wapictl_list "$_wapictl_handles_columns" "$cur"
			fi
			return
			;;
		-t|--type)
			_wapictl_list "$_wapictl_types" "$cur"
			COMPREPLY=("${COMPREPLY[@],,}")
			return
			;;
		esac
		;;
	waits)
		if [[ $prev == -o || $prev == --output ]]; then
			_wapictl_list "$_wapictl_waits_columns" "$cur"
			return
		fi
		;;
	validate)
		if [[ $cur != -* ]]; then
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			compopt -o filenames 2>/dev/null
			return
		fi
		;;
	lock)
		# After the options comes the command to run, then its words.
		# An option's argument is the next word, or "=" and the word
		# after it (--timeout=5): never the command.
		for ((i = cmdi + 1; i < COMP_CWORD; i++)); do
			case ${COMP_WORDS[i]} in
			--)
				i=$((i + 1))
				break
				;;
			-w|--wait|--timeout|-d|--dir|-H|--host)
				((i++))
				[[ ${COMP_WORDS[i]-} == = ]] && ((i++))
				;;
			-*|=)
				;;
			*)
				break
				;;
			esac
		done
		if ((i < COMP_CWORD)); then
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			compopt -o filenames 2>/dev/null
			return
		fi
		case $prev in
		-w|--wait|--timeout)
			return
			;;
		esac
		_wapictl_global_arg && return
		if [[ $cur != -* || ${COMP_WORDS[COMP_CWORD-1]} == -- ]]; then
			mapfile -t COMPREPLY < <(compgen -c -- "$cur" | sort -u)
			return
		fi
		;;
	clean)
		case $prev in
		--older-than)
			mapfile -t COMPREPLY < <(compgen -W '90s 30m 1h 12h 1d 7d 30d' -- "$cur")
			return
			;;
		esac
		;;
	stop)
		case $prev in
		-w|--wait)
			return
			;;
		esac
		;;
	*)
		return
		;;
	esac

	local opts=_wapictl_${cmd}_opts
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "${!opts} $_wapictl_global_opts" -- "$cur")
	fi
}

complete -F _wapictl wapictl
