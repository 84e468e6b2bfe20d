/*-------------------------------------------------------------------------
 *
 * io_pg.h
 *		  Non-blocking queries to other PostgreSQL servers over libpq,
 *		  driven by the event loop, on connections kept across calls.
 *
 * IDENTIFICATION
 *		  src/io_pg.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_IO_PG_H
#define APEX_IO_PG_H

#include "libpq-fe.h"

#include "event_loop.h"

/*
 * res is NULL on failure; then error says why in our words (a sentence)
 * with its SQLSTATE, and remote holds libpq's message, or NULL: it may
 * quote the remote server.
 */
typedef void (*ApexPgDone) (void *arg, PGresult *res, const char *error,
							int sqlerrcode, const char *remote);

typedef struct ApexPgRequest
{
	ApexLoop   *loop;
	Oid			serverid;		/* connections are kept per server and */
	Oid			mapping_oid;	/* user mapping (InvalidOid: none, per user) */
	const char *label;			/* source name, for apex_router_connections */
	const char *const *keywords;	/* libpq connection options, NULL-ended;
									 * application_name is added (identity.c) */
	const char *const *values;
	const char *query;
	int			nparams;
	const Oid  *paramtypes;
	const char *const *params;
	/* the source's application_name template, or NULL: the setting's */
	const char *identity_template;
	long		connect_timeout_ms; /* a new connection */
	bool		password_required;	/* fail unless the server used the password */
	void	   *owner;			/* whose clock bounds it (a leg): its cancel */
	ApexPgDone	done;
	void	   *arg;
} ApexPgRequest;

/* in io_pg.c */
extern const struct ApexTransport ApexPgTransport;
extern void ApexPgStart(const ApexPgRequest *request);

#endif							/* APEX_IO_PG_H */
