# tenback.bash - bash completion for tenback: commands, subcommands, options, and
# cluster names (from "tenback cluster list --output json", only when a --cluster or
# --into-cluster value is being completed: it opens the metadata store).
# Installed as /usr/share/bash-completion/completions/tenback.

_tenback_clusters()
{
	local home=() i
	for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
		case ${COMP_WORDS[i]} in
		--home) home=(--home "${COMP_WORDS[i + 1]}") ;;
		--home=*) home=("${COMP_WORDS[i]}") ;;
		esac
	done
	tenback "${home[@]}" --quiet cluster list --output json 2>/dev/null |
		grep -o '"name": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'
}

_tenback()
{
	local cur prev cmd sub i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	local global="--home --server --token --log-level --quiet --verbose --help --version"
	local commands="cluster check tenant backup set verify restore window storage audit alert notify serve user archive-push archive-get version"

	# the command: the first word that is not a global option or its value
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--home | --server | --token | --log-level) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; sub=${COMP_WORDS[i + 1]}; break ;;
		esac
	done

	case $prev in
	--home | --pgdata | --to | --temp-dir | --socket-dir | --pg-bin | --web)
		COMPREPLY=($(compgen -d -- "$cur")); return ;;
	--storage-credentials | --sql-file)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--log-level) COMPREPLY=($(compgen -W "error warning info debug" -- "$cur")); return ;;
	--output) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
	--mode) COMPREPLY=($(compgen -W "full incremental" -- "$cur")); return ;;
	--method) COMPREPLY=($(compgen -W "physical logical" -- "$cur")); return ;;
	--compress) COMPREPLY=($(compgen -W "zstd lz4 none" -- "$cur")); return ;;
	--detect) COMPREPLY=($(compgen -W "wal scan compare" -- "$cur")); return ;;
	--role) COMPREPLY=($(compgen -W "admin operator viewer" -- "$cur")); return ;;
	--target) COMPREPLY=($(compgen -W "latest immediate" -- "$cur")); return ;;
	--set) COMPREPLY=($(compgen -W "latest" -- "$cur")); return ;;
	--cluster | --into-cluster) COMPREPLY=($(compgen -W "$(_tenback_clusters)" -- "$cur")); return ;;
	--server | --token | --conninfo | --storage | --uri | --tenant | --port | --jobs | --limit | \
		--before | --listen | --workers | --archive-timeout | --timeout | --as | --target-*)
		return ;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$global" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi

	local subs="" opts=""
	case $cmd in
	cluster) subs="add list remove encryption key-add key-remove keys"
		case $sub in
		add) opts="--conninfo --pgdata --storage --compress --storage-credentials" ;;
		list | keys) opts="--output" ;;
		encryption) opts="--key-file --passphrase-file --off" ;;
		key-add) opts="--key-file --passphrase-file" ;;
		key-remove) opts="--fingerprint" ;;
		esac ;;
	check) opts="--cluster --archive-timeout --output" ;;
	tenant) subs="list"; opts="--cluster --output" ;;
	backup) opts="--cluster --tenant --mode --method --compress --storage --jobs --archive-timeout --pg-bin --detect --wait" ;;
	set) subs="list delete"
		case $sub in
		list) opts="--cluster --tenant --all --output" ;;
		delete) opts="--cluster --tenant --set --with-dependents" ;;
		esac ;;
	verify) opts="--cluster --tenant --set" ;;
	restore) opts="--cluster --tenant --set --to --port --start --force --target --target-time --target-lsn
		--target-xid --target-name --tablespace-map --socket-dir --run-as --pg-bin --timeout --jobs
		--as --into-cluster --temp-dir --sql-file" ;;
	window) opts="--cluster --tenant --output" ;;
	storage) subs="test add list remove"
		case $sub in
		test) opts="--storage-credentials --output" ;;
		add) opts="--uri --storage-credentials" ;;
		list) opts="--output" ;;
		esac ;;
	audit) subs="list"; opts="--limit --before --output" ;;
	alert) subs="list ack"; opts="--all --output" ;;
	notify) subs="channel test attempts"
		case $sub in
		channel) opts="add list remove --type --url --secret-file --kinds --from --to --username --output" ;;
		attempts) opts="--channel --limit --output" ;;
		esac ;;
	serve) opts="--listen --workers --web --alert-interval" ;;
	user) subs="add list passwd remove sessions revoke"
		case $sub in
		add) opts="--role" ;;
		list) opts="--output" ;;
		sessions) opts="--user --output" ;;
		revoke) opts="--id" ;;
		esac ;;
	archive-push | archive-get) opts="--cluster" ;;
	esac

	if [[ -n $subs && $COMP_CWORD -le $((i + 1)) ]]; then
		COMPREPLY=($(compgen -W "$subs" -- "$cur"))
	elif [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -F _tenback tenback
