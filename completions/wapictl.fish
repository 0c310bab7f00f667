# fish completion for wapictl(1); installed in
# $(datadir)/fish/vendor_completions.d.  The lists below follow
# src/wapictl/*.c: tests/docs.bats checks them.

set -l wapictl_commands status handles validate lock clean stop

# Host names of the state files in the directory: <host>.<abi>.state.
function __wapictl_hosts
    set -l dir
    set -l tokens (commandline -opc)
    for i in (seq (count $tokens))
        switch $tokens[$i]
            case -d --dir
                set dir $tokens[(math $i + 1)]
            case '--dir=*'
                set dir (string replace -- --dir= '' $tokens[$i])
        end
    end
    if test -z "$dir"
        if set -q WAPI_SHARED_DIR; and test -n "$WAPI_SHARED_DIR"
            set dir $WAPI_SHARED_DIR/.wapi
        else if set -q MONO_SHARED_DIR; and test -n "$MONO_SHARED_DIR"
            set dir $MONO_SHARED_DIR/.wapi
        else
            set dir $HOME/.wapi
        end
    end
    for f in $dir/*.state
        string replace -r '^.*/(.*)\.[^.]+\.state$' '$1' -- $f
    end
end

# Complete a comma-separated list: what is typed before the last comma is
# kept, a leading + (add to the default columns) too.
function __wapictl_list
    set -l cur (commandline -ct)
    set cur (string replace -r -- '^--[a-z]+=' '' $cur)
    set -l head (string match -r -- '^.*,' $cur)
    if test -z "$head"
        set head (string match -r -- '^\+' $cur)
    end
    for w in $argv
        printf '%s%s\n' $head $w
    end
end

set -l status_columns PATH HOST ABI VERDICT REASON HELPER HELPER-ALIVE \
    CLIENTS HANDLES SIZE AGE HEARTBEAT LOCK BOOT EVENTS MUTEXES SEMAPHORES \
    FILES PIPES SOCKETS PROCESSES
set -l handles_columns HANDLE SLOT GEN TYPE REFS NAME SIGNALLED OWNER \
    WAITERS CHANGED DETAILS HOST PATH
set -l types event mutex semaphore file pipe socket process

complete -c wapictl -f

# Global options, before the command.
set -l nocmd "not __fish_seen_subcommand_from $wapictl_commands"
complete -c wapictl -n $nocmd -s d -l dir -r -F -a '(__fish_complete_directories)' -d 'State directory'
complete -c wapictl -n $nocmd -s H -l host -x -a '(__wapictl_hosts)' -d "Look at this host's state"
complete -c wapictl -n $nocmd -s A -l all-hosts -d 'Every host in the directory'
complete -c wapictl -n $nocmd -s J -l json -d 'JSON output'
complete -c wapictl -n $nocmd -s q -l quiet -d 'Print nothing unless something failed'
complete -c wapictl -n $nocmd -s h -l help -d 'Print a summary of commands and options'
complete -c wapictl -n $nocmd -s V -l version -d 'Print the version'

# Commands.
complete -c wapictl -n $nocmd -a status -d 'One row per state file, its verdict and why'
complete -c wapictl -n $nocmd -a handles -d "The handle table of the host's state file"
complete -c wapictl -n $nocmd -a validate -d 'Deep check of state files'
complete -c wapictl -n $nocmd -a lock -d 'Run a command holding the table lock'
complete -c wapictl -n $nocmd -a clean -d 'Remove orphaned state, explaining each decision'
complete -c wapictl -n $nocmd -a stop -d "Ask this host's helper to leave"

# status
set -l c '__fish_seen_subcommand_from status'
complete -c wapictl -n $c -s o -l output -x -a "(__wapictl_list $status_columns)" -d 'Columns to show'
complete -c wapictl -n $c -s r -l raw -d 'Raw output'
complete -c wapictl -n $c -s n -l noheadings -d 'No headings'
complete -c wapictl -n $c -s v -l verbose -d 'Counts by type, and the client slots'
complete -c wapictl -n $c -s h -l help -d 'Print the options and columns'

# handles
set c '__fish_seen_subcommand_from handles'
complete -c wapictl -n $c -s o -l output -x -a "(__wapictl_list $handles_columns)" -d 'Columns to show'
complete -c wapictl -n $c -s r -l raw -d 'Raw output'
complete -c wapictl -n $c -s n -l noheadings -d 'No headings'
complete -c wapictl -n $c -s t -l type -x -a "(__wapictl_list $types)" -d 'Only handles of these types'
complete -c wapictl -n $c -s h -l help -d 'Print the options and columns'

# validate
set c '__fish_seen_subcommand_from validate'
complete -c wapictl -n $c -F
complete -c wapictl -n $c -s v -l verbose -d 'Print every problem, not only the first five'
complete -c wapictl -n $c -s h -l help -d 'Print the options'

# lock
set c '__fish_seen_subcommand_from lock'
complete -c wapictl -n $c -s w -l wait -x -d 'Seconds to wait for the lock'
complete -c wapictl -n $c -l timeout -x -d 'Seconds to wait for the lock (same as --wait)'
complete -c wapictl -n $c -s h -l help -d 'Print the options'
complete -c wapictl -n $c -a '(__fish_complete_subcommand --fcs-skip=2)'

# clean
set c '__fish_seen_subcommand_from clean'
complete -c wapictl -n $c -s n -l dry-run -d 'Say what would be done, change nothing'
complete -c wapictl -n $c -l older-than -x -a '90s 30m 1h 12h 1d 7d 30d' -d 'Only files inactive for longer than this'
complete -c wapictl -n $c -l force-host -d "Also remove other hosts' files (needs --older-than)"
complete -c wapictl -n $c -s h -l help -d 'Print the options'

# stop
set c '__fish_seen_subcommand_from stop'
complete -c wapictl -n $c -s w -l wait -x -d 'Seconds to wait for the helper to leave'
complete -c wapictl -n $c -l kill -d 'Kill the helper if it has not left'
complete -c wapictl -n $c -s h -l help -d 'Print the options'
