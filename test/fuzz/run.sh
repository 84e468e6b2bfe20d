#!/bin/bash
# test/fuzz/run.sh [seconds-per-target] [target...]
#
# Fuzzes apex_router's response decoders with libFuzzer inside a PostgreSQL
# backend (see fuzz_main.c): builds apex_fuzz.so, creates a scratch cluster,
# and runs each target (default: all) for the given time (default 10 s) in
# "postgres --single", from the hand-picked seeds in corpus/<target>/ and
# what earlier runs found.  Prints one line per target and exits non-zero
# on any finding.  Works as root (the backend runs as postgres) or as a
# normal user.  Installs nothing.
#
# Everything it writes goes to $APEX_FUZZ_WORK (default /tmp/apex_fuzz.USER):
#   build/        apex_fuzz.so, nls_off.so and objects
#   pgdata-ENC/   the scratch cluster (ENC: $APEX_FUZZ_ENCODING, default UTF8;
#                 LATIN1 runs the decoders in a database whose encoding is
#                 not UTF-8: every answer is converted, and a character
#                 LATIN1 lacks must fail the decoder, never throw; issue 11
#                 item 3.  Its lines read "fuzz T (LATIN1): ...")
#   corpus/T/     inputs libFuzzer found for target T (kept across runs)
#   artifacts/    crash, timeout and OOM inputs
#   logs/T-ENC.log  libFuzzer's output
# $APEX_FUZZ_FLAGS adds libFuzzer options (e.g. -max_len=65536).
set -u

here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-10}
shift $(( $# > 0 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(json neo4j qdrant keypath graphiti embed embed_many rerank redis postgres redact)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
encoding=${APEX_FUZZ_ENCODING:-UTF8}
work=${APEX_FUZZ_WORK:-/tmp/apex_fuzz.$(id -un)}
pgdata=$work/pgdata-$encoding
label=
[ "$encoding" = UTF8 ] || label=" ($encoding)"

die() { echo "run.sh: $*" >&2; exit 2; }

case $secs in (*[!0-9]*|'') die "seconds must be a number, not '$secs'";; esac
case $work in (*\'*) die "APEX_FUZZ_WORK must not contain a quote";; esac
command -v clang-14 >/dev/null || die "needs the Debian packages clang-14 libclang-rt-14-dev"
rtdir=$(clang-14 -print-resource-dir)/lib/linux
asan=$rtdir/libclang_rt.asan-x86_64.so
[ -f "$asan" ] && [ -f "$rtdir/libclang_rt.fuzzer_no_main-x86_64.a" ] ||
	die "needs the Debian packages clang-14 libclang-rt-14-dev"
bindir=$("$PG_CONFIG" --bindir) || die "no pg_config at $PG_CONFIG (postgresql-server-dev-15)"

# the backend runs as postgres when we are root (postgres refuses root)
as_backend=()
if [ "$(id -u)" = 0 ]; then
	as_backend=(runuser -u postgres --)
fi

mkdir -p "$work/logs" "$work/seeds" "$work/corpus" "$work/artifacts" || exit 2
echo "run.sh: building $work/build/apex_fuzz.so"
make -s -C "$here" -j"$(nproc)" BUILD="$work/build" PG_CONFIG="$PG_CONFIG" \
	>"$work/logs/build.log" 2>&1 || { tail -n 30 "$work/logs/build.log"; die "build failed"; }
cp "$here/apex_fuzz.dict" "$work/"
for t in "${targets[@]}"; do
	[ -d "$here/corpus/$t" ] || die "unknown target '$t' (no corpus/$t)"
	rm -rf "$work/seeds/$t"
	cp -r "$here/corpus/$t" "$work/seeds/$t"
	mkdir -p "$work/corpus/$t"
done
chmod a+rx "$work"
chmod -R a+rX "$work/build" "$work/seeds" "$work/apex_fuzz.dict"
if [ ${#as_backend[@]} -gt 0 ]; then
	chown -R postgres "$work/corpus" "$work/artifacts"
	[ -d "$pgdata" ] || install -d -o postgres "$pgdata"
fi

if [ ! -f "$pgdata/PG_VERSION" ]; then
	(cd / && "${as_backend[@]}" "$bindir/initdb" -D "$pgdata" -E "$encoding" --locale=C \
		-A trust --no-sync) >"$work/logs/initdb.log" 2>&1 ||
		{ tail -n 20 "$work/logs/initdb.log"; die "initdb failed"; }
fi

failed=0
for t in "${targets[@]}"; do
	log=$work/logs/$t-$encoding.log
	flags="'-max_total_time=$secs', '-timeout=10', '-max_len=16384', '-print_final_stats=1'"
	flags+=", '-dict=$work/apex_fuzz.dict', '-artifact_prefix=$work/artifacts/$t-'"
	for f in ${APEX_FUZZ_FLAGS:-}; do
		flags+=", '$f'"
	done
	flags+=", '$work/corpus/$t', '$work/seeds/$t'"
	# allocations over 1 GB fail (hiredis callocs what a reply announces,
	# "*400000000": on a server without overcommit that fails too), and a
	# small stack (PostgreSQL derives max_stack_depth 128kB from it), so
	# that recursion a 16 MB response could drive deep enough to overflow
	# the default 8 MB stack does so here with inputs of a few kB
	(cd / && ulimit -s 640 && "${as_backend[@]}" env LD_PRELOAD="$asan $work/build/nls_off.so" \
		ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=1024 \
		ASAN_SYMBOLIZER_PATH="$(dirname "$(readlink -f "$(command -v clang-14)")")/llvm-symbolizer" \
		"$bindir/postgres" --single -D "$pgdata" postgres) \
		>"$log" 2>&1 <<-EOF
		CREATE OR REPLACE FUNCTION apex_fuzz(text, text[]) RETURNS int AS '$work/build/apex_fuzz.so', 'apex_fuzz' LANGUAGE C STRICT;
		SELECT apex_fuzz('$t', ARRAY[$flags]);
		EOF
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
	cov=$(grep -ao 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$log" | tail -n 1)
	artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | grep -v slow-unit | tail -n 1)
	if [ "$rc" = 0 ] && [ -n "$runs" ] && [ -z "$artifact" ]; then
		echo "fuzz $t$label: ok, $runs runs in ${took:-?} s ($cov)"
	else
		echo "fuzz $t$label: FAILED (${artifact:-exit $rc, see $log})"
		grep -a -m 5 -E '^apex_fuzz|ERROR: AddressSanitizer|ERROR: libFuzzer|SUMMARY' "$log" | sed 's/^/    /'
		failed=1
	fi
done
exit $failed
