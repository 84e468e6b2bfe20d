/*-------------------------------------------------------------------------
 *
 * source_kinds.c
 *		  The registry of source kinds: adding a kind is one line here.
 *
 * IDENTIFICATION
 *		  src/source_kinds.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "apex_router.h"

extern const ApexKind ApexEmbedderKind;
extern const ApexKind ApexGraphitiKind;
extern const ApexKind ApexNeo4jKind;
extern const ApexKind ApexPostgresKind;
extern const ApexKind ApexQdrantKind;
extern const ApexKind ApexRedisKind;
extern const ApexKind ApexRerankerKind;
extern const ApexKind ApexSqlKind;

static const ApexKind *const apex_kinds[] = {
	&ApexEmbedderKind,
	&ApexGraphitiKind,
	&ApexNeo4jKind,
	&ApexPostgresKind,
	&ApexQdrantKind,
	&ApexRedisKind,
	&ApexRerankerKind,
	&ApexSqlKind,
};

const ApexKind *
ApexFindKind(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < lengthof(apex_kinds); i++)
	{
		if (strcmp(apex_kinds[i]->name, name) == 0)
			return apex_kinds[i];
	}
	return NULL;
}

/* "embedder, neo4j, ..." for hints */
char *
ApexKindNames(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (size_t i = 0; i < lengthof(apex_kinds); i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", apex_kinds[i]->name);
	return buf.data;
}
