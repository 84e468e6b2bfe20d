/*-------------------------------------------------------------------------
 *
 * leg_neo4j.h
 *		  The configuration of a neo4j source and its response decoder,
 *		  exported for the fuzz harness (test/fuzz).
 *
 * IDENTIFICATION
 *		  src/leg_neo4j.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_LEG_NEO4J_H
#define APEX_LEG_NEO4J_H

#include "leg.h"

/* values of api: the index of its name in the option's choices */
#define APEX_NEO4J_TX 0			/* POST /db/{db}/tx/commit */
#define APEX_NEO4J_QUERY 1		/* POST /db/{db}/query/v2, Neo4j >= 5.19 */

/* the transaction's access mode: a cluster routes READ to its readers */
#define APEX_NEO4J_READ 0
#define APEX_NEO4J_WRITE 1

typedef struct ApexNeo4jConf
{
	ApexHttpConf http;
	char	   *database;
	int			api;			/* APEX_NEO4J_TX or APEX_NEO4J_QUERY */
	char	   *statement;		/* Cypher, with $query, $query_lucene, $limit */
	int			access_mode;	/* APEX_NEO4J_READ or APEX_NEO4J_WRITE */
} ApexNeo4jConf;

/*
 * an ApexDecoder: state is the ApexNeo4jConf, result an ApexItemsSkipped *
 * (the rows skipped: their id is null or not a string or number)
 */
extern char *ApexNeo4jDecode(const void *state, long status, StringInfo body,
							 void *result, ApexRemote *remote);

#endif							/* APEX_LEG_NEO4J_H */
