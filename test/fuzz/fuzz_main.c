/*-------------------------------------------------------------------------
 *
 * fuzz_main.c
 *		  libFuzzer inside a PostgreSQL backend: the SQL function that runs
 *		  the fuzzer, per-input isolation, and the invariants every decoder
 *		  result must satisfy.
 *
 * Design.  The decoders use palloc, jsonb_in and numeric, so they run in a
 * real backend rather than against stubs: the harness is a test-only
 * module, apex_fuzz.so, made of every source in src/ (built with clang,
 * -fsanitize=fuzzer-no-link,address) plus these files, which call the pure
 * decoders each kind exports in its header (src/leg_<kind>.h) exactly as
 * the legs call them.  libFuzzer's no-main runtime is linked in; SELECT
 * apex_fuzz(target, flags) hands the flags to LLVMFuzzerRunDriver(), which
 * never returns: libFuzzer exits the process when done or on a finding.  run.sh calls it
 * from "postgres --single" on a scratch cluster, with the ASan runtime
 * preloaded (the postgres binary itself is not instrumented).
 *
 * Per input: the input is copied into a malloc'd buffer of exactly
 * size + 1 bytes (NUL-terminated, like a StringInfo), so ASan sees reads
 * past the body; the target runs in its own memory context whose blocks
 * are small (1 kB), so any palloc over 128 bytes gets a malloc block of its
 * own and overflows past it are seen too.  The decoders promise never to
 * throw: the target runs inside PG_TRY, and a caught ERROR is printed and
 * abort()ed on, which libFuzzer turns into a crash artifact.  So is any
 * broken invariant (FuzzFail).
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz_main.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdlib.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "apex_router.h"
#include "json.h"

#include "fuzz.h"

/* libFuzzer's entry point when the program has a main of its own */
extern int	LLVMFuzzerRunDriver(int *argc, char ***argv,
								int (*callback) (const uint8 *data, size_t size));

typedef struct FuzzTarget
{
	const char *name;
	void		(*run) (const uint8 *data, size_t size);
} FuzzTarget;

static const FuzzTarget fuzz_targets[] = {
	{"json", FuzzJson},
	{"neo4j", FuzzNeo4j},
	{"qdrant", FuzzQdrant},
	{"keypath", FuzzKeyPath},
	{"graphiti", FuzzGraphiti},
	{"embed", FuzzEmbed},
	{"embed_many", FuzzEmbedMany},
	{"rerank", FuzzRerank},
	{"redis", FuzzRedis},
	{"postgres", FuzzPostgres},
	{"redact", FuzzRedact},
};

static const FuzzTarget *fuzz_target;
static MemoryContext fuzz_parent;

void
FuzzFail(const char *fmt,...)
{
	va_list		args;

	fprintf(stderr, "apex_fuzz %s: ", fuzz_target->name);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
	abort();
}

/*
 * An error text becomes a WARNING's detail: a string valid in the server
 * encoding, one or more sentences (an upper-case letter first, a full stop
 * last).
 */
void
FuzzCheckError(const char *error)
{
	size_t		len;

	if (error == NULL)
		FuzzFail("decoder failed without saying why");
	if (!pg_verifymbstr(error, strlen(error), true))
		FuzzFail("error text is not valid in the server encoding: \"%s\"", error);
	len = strlen(error);
	if (len == 0 || error[0] < 'A' || error[0] > 'Z' || error[len - 1] != '.')
		FuzzFail("error text is not a sentence: \"%s\"", error);
}

/*
 * Items: an id, optional title and content, and the raw item, a jsonb
 * object whose text reads back (fusion embeds it in the payload; the
 * cache stores the payload as text and parses it again).
 */
void
FuzzCheckItems(List *items)
{
	ListCell   *lc;

	foreach(lc, items)
	{
		ApexItem   *item = lfirst(lc);
		char	   *error;
		char	   *raw;

		if (item == NULL || item->id == NULL || item->raw == NULL ||
			ApexJsonObject(item->raw) == NULL)
			FuzzFail("item %d without an id or a raw JSON object", foreach_current_index(lc));
		raw = ApexJsonText(item->raw);
		if (!pg_verifymbstr(item->id, strlen(item->id), true) ||
			(item->title && !pg_verifymbstr(item->title, strlen(item->title), true)) ||
			(item->content && !pg_verifymbstr(item->content, strlen(item->content), true)))
			FuzzFail("item \"%s\": text not valid in the server encoding", item->id);
		if (ApexJsonParseLocal(raw, strlen(raw), &error) == NULL)
			FuzzFail("item \"%s\": raw JSON does not read back (%s): %s",
					 item->id, error, raw);
	}
}

/* One input, isolated; see the header comment */
static int
fuzz_one(const uint8 *data, size_t size)
{
	MemoryContext cxt = AllocSetContextCreate(fuzz_parent, "apex_fuzz input",
											  0, 1024, 1024);
	uint8	   *copy = malloc(size + 1);

	memcpy(copy, data, size);
	copy[size] = '\0';
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fuzz_target->run(copy, size);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(fuzz_parent);
		edata = CopyErrorData();
		FuzzFail("ERROR thrown: %s%s%s (%s:%d, %s)", edata->message,
				 edata->detail ? ": " : "", edata->detail ? edata->detail : "",
				 edata->filename, edata->lineno, edata->funcname);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(fuzz_parent);
	MemoryContextDelete(cxt);
	free(copy);
	return 0;
}

PG_FUNCTION_INFO_V1(apex_fuzz);

/*
 * apex_fuzz(target text, flags text[]): run libFuzzer on one target; flags
 * are libFuzzer's command line (options, then corpus directories).
 */
Datum
apex_fuzz(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Datum	   *flags;
	bool	   *nulls;
	int			nflags;
	int			argc;
	char	  **argv;

	for (size_t i = 0; i < lengthof(fuzz_targets); i++)
		if (strcmp(fuzz_targets[i].name, name) == 0)
			fuzz_target = &fuzz_targets[i];
	if (fuzz_target == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown fuzz target \"%s\"", name),
				 errhint("Targets: json, neo4j, qdrant, keypath, graphiti, embed, embed_many, rerank, redis, postgres, redact.")));

	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT,
					  &flags, &nulls, &nflags);
	argv = palloc0(sizeof(char *) * (nflags + 2));
	argv[0] = "apex_fuzz";
	for (int i = 0; i < nflags; i++)
		argv[i + 1] = nulls[i] ? "" : TextDatumGetCString(flags[i]);
	argc = nflags + 1;

	fuzz_parent = CurrentMemoryContext;
	PG_RETURN_INT32(LLVMFuzzerRunDriver(&argc, &argv, fuzz_one));
}
