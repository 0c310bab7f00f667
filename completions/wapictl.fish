# fish completion for wapictl(1); installed in
# $(datadir)/fish/vendor_completions.d.  The lists below follow
# src/wapictl/*.c: tests/docs.bats checks them.  wapictl's options may also
# follow the command (for lock, only before the command it runs).

set -l wapictl_commands status handles waits validate lock clean stop help

# The command, then the arguments given to it so far (options and their
# arguments left out); for lock, "--" counts as one: its COMMAND follows.
function __wapictl_cmd_args
    set -l tokens (commandline -opc)
    set -l words
    set -l skip 0
    for t in $tokens[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $t
            case -d -H --dir --host -w --wait --timeout
                if test (count $words) -lt 2
                    set skip 1
                end
            case --
                if test "$words[1]" = lock
                    set -a words $t
                end
            case '-*'
            case '*'
                set -a words $t
        end
    end
    printf '%s\n' $words
end

# Whether wapictl's options may stand here: not after lock's COMMAND.
function __wapictl_globals_here
    set -l w (__wapictl_cmd_args)
    not test "$w[1]" = lock -a (count $w) -gt 1
end

# What lock runs: a command name, then that command's own completions.
function __wapictl_lock_complete
    set -l tokens (commandline -opc)
    set -l n (count $tokens)
    set -l i 2
    set -l lock 0
    while test $i -le $n
        set -l t $tokens[$i]
        if test $lock = 1; and test "x$t" = x--
            set i (math $i + 1)
            break
        end
        switch $t
            case -d -H --dir --host -w --wait --timeout
                set i (math $i + 1)
            case '-*'
            case '*'
                test $lock = 1; and break
                set lock 1
        end
        set i (math $i + 1)
    end
    if test $i -gt $n
        __fish_complete_command
    else
        complete -C (string join ' ' -- (string escape -- $tokens[$i..-1]) (commandline -ct))
    end
end

# Whether the word is help's argument, a command name.
function __wapictl_help_arg
    set -l w (__wapictl_cmd_args)
    test "$w[1]" = help -a (count $w) -eq 1
end

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
    CLIENTS HANDLES SIZE AGE HEARTBEAT LOCK BOOT PLACE SEGMENT SEG-SIZE \
    SEG-RSS EVENTS MUTEXES SEMAPHORES FILES PIPES SOCKETS PROCESSES APPARENT \
    CLIENTS-LIVE CLIENTS-RECORDED HANDLES-USED HANDLES-CAPACITY HELPER-STATE
set -l handles_columns HANDLE SLOT GEN TYPE REFS NAME SIGNALLED OWNER \
    WAITERS CHANGED DETAILS HOST PATH HOLDERS OWNED
set -l waits_columns PID TID WAIT SINCE TIMEOUT COUNT OBJECTS OWNERS STATE \
    HOST PATH
set -l types event mutex semaphore file pipe socket process

complete -c wapictl -f

# Global options, before or after the command; each command has its -h.
set -l nocmd "not __fish_seen_subcommand_from $wapictl_commands"
set -l g __wapictl_globals_here
complete -c wapictl -n $g -s d -l dir -r -F -a '(__fish_complete_directories)' -d 'State directory'
complete -c wapictl -n $g -s H -l host -x -a '(__wapictl_hosts)' -d "Look at this host's state"
complete -c wapictl -n $g -s A -l all-hosts -d 'Every host in the directory'
complete -c wapictl -n $g -s J -l json -d 'JSON output'
complete -c wapictl -n $g -s q -l quiet -d 'Print nothing unless something failed'
complete -c wapictl -n $nocmd -s h -l help -d 'Print a summary of commands and options'
complete -c wapictl -n $g -s V -l version -d 'Print the version'

# Commands.
complete -c wapictl -n $nocmd -a status -d 'One row per state file, its verdict and why'
complete -c wapictl -n $nocmd -a handles -d "The handle table of the host's state file"
complete -c wapictl -n $nocmd -a waits -d 'Who waits for what, who holds it, and the deadlocks'
complete -c wapictl -n $nocmd -a validate -d 'Deep check of state files'
complete -c wapictl -n $nocmd -a lock -d 'Run a command holding the table lock'
complete -c wapictl -n $nocmd -a clean -d 'Remove orphaned state, explaining each decision'
complete -c wapictl -n $nocmd -a stop -d "Ask this host's helper to leave"
complete -c wapictl -n $nocmd -a help -d 'Print the usage of a command'

# status
set -l c '__fish_seen_subcommand_from status'
complete -c wapictl -n $c -s o -l output -x -a "(__wapictl_list $status_columns)" -d 'Columns to show'
complete -c wapictl -n $c -s r -l raw -d 'Raw output'
complete -c wapictl -n $c -s n -l noheadings -d 'No headings'
complete -c wapictl -n $c -s l -l notruncate -d 'Whole reasons, not cut to the terminal'
complete -c wapictl -n $c -s v -l verbose -d 'Where the tables are, counts by type, and the client slots'
complete -c wapictl -n $c -s h -l help -d 'Print the options and columns'

# handles
set c '__fish_seen_subcommand_from handles'
complete -c wapictl -n $c -s o -l output -x -a "(__wapictl_list $handles_columns)" -d 'Columns to show'
complete -c wapictl -n $c -s r -l raw -d 'Raw output'
complete -c wapictl -n $c -s n -l noheadings -d 'No headings'
complete -c wapictl -n $c -s l -l notruncate -d 'Whole details, not cut to the terminal'
complete -c wapictl -n $c -s t -l type -x -a "(__wapictl_list $types)" -d 'Only handles of these types'
complete -c wapictl -n $c -s p -l holder -x -a '(__fish_complete_pids)' -d 'Only handles this process holds'
complete -c wapictl -n $c -l name -x -d 'Only named handles matching this pattern'
complete -c wapictl -n $c -s h -l help -d 'Print the options and columns'

# waits
set c '__fish_seen_subcommand_from waits'
complete -c wapictl -n $c -s o -l output -x -a "(__wapictl_list $waits_columns)" -d 'Columns to show'
complete -c wapictl -n $c -s r -l raw -d 'Raw output'
complete -c wapictl -n $c -s n -l noheadings -d 'No headings'
complete -c wapictl -n $c -s h -l help -d 'Print the options and columns'

# validate
set c '__fish_seen_subcommand_from validate'
complete -c wapictl -n $c -F
complete -c wapictl -n $c -s v -l verbose -d 'Print every problem, not only the first five'
complete -c wapictl -n $c -s h -l help -d 'Print the options'

# lock: its options before the command it runs
set c '__fish_seen_subcommand_from lock'
set -l lo "$c; and __wapictl_globals_here"
complete -c wapictl -n $lo -s w -l wait -x -d 'Seconds to wait for the lock'
complete -c wapictl -n $lo -l timeout -x -d 'Seconds to wait for the lock (same as --wait)'
complete -c wapictl -n $lo -s h -l help -d 'Print the options'
complete -c wapictl -n $c -a '(__wapictl_lock_complete)'

# clean
set c '__fish_seen_subcommand_from clean'
complete -c wapictl -n $c -s n -l dry-run -d 'Say what would be done, change nothing'
complete -c wapictl -n $c -l older-than -x -a '90s 30m 1h 12h 1d 7d 30d' -d 'Only files inactive for longer than this'
complete -c wapictl -n $c -l force-host -d "Also remove other hosts' files (needs --older-than, and -A or -H)"
complete -c wapictl -n $c -l no-syslog -d 'Do not log the removals to syslog'
complete -c wapictl -n $c -s v -l verbose -d 'With -q, print the summary in any case'
complete -c wapictl -n $c -s h -l help -d 'Print the options'

# stop
set c '__fish_seen_subcommand_from stop'
complete -c wapictl -n $c -s w -l wait -x -d 'Seconds to wait for the helper to leave'
complete -c wapictl -n $c -l kill -d 'Kill the helper if it has not left'
complete -c wapictl -n $c -l no-syslog -d 'Do not log the signals sent to syslog'
complete -c wapictl -n $c -s h -l help -d 'Print the options'

# help
set c '__fish_seen_subcommand_from help'
complete -c wapictl -n __wapictl_help_arg -a "$wapictl_commands" -d 'Print its usage'
complete -c wapictl -n $c -s h -l help -d 'Print the usage of help'
