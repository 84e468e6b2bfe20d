/*-------------------------------------------------------------------------
 *
 * leg_qdrant.h
 *		  The configuration of a qdrant source and its response decoder,
 *		  exported for the fuzz harness (test/fuzz).
 *
 * IDENTIFICATION
 *		  src/leg_qdrant.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_LEG_QDRANT_H
#define APEX_LEG_QDRANT_H

#include "leg.h"

/* values of endpoint: the index of its name in the option's choices */
#define APEX_QDRANT_QUERY 0		/* POST /collections/{c}/points/query */
#define APEX_QDRANT_SEARCH 1	/* the deprecated /points/search */

typedef struct ApexQdrantConf
{
	ApexHttpConf http;
	char	   *collection;
	char	   *embedder;		/* source name, or NULL */
	int			endpoint;		/* APEX_QDRANT_QUERY or APEX_QDRANT_SEARCH */
	char	   *vector_name;	/* named vector, or NULL */
	/* payload fields, as Qdrant key paths (json_path.c) */
	char	   *id_field;		/* the id, or NULL: the point id */
	char	   *title_field;
	char	   *content_field;
	double		score_threshold;	/* NaN: none */
	char	   *filter;			/* a JSON object, or NULL */
	char	   *filter_template;	/* one with ${name} placeholders, or NULL */
	bool		with_vectors;	/* ask for the points' vectors (for MMR) */
} ApexQdrantConf;

/*
 * an ApexDecoder: state is the ApexQdrantConf, result an ApexItemsSkipped *
 * (the points skipped: id_field named no string or number in their payload)
 */
extern char *ApexQdrantDecode(const void *state, long status, StringInfo body,
							  void *result, ApexRemote *remote);

#endif							/* APEX_LEG_QDRANT_H */
