/*-------------------------------------------------------------------------
 *
 * fuzz.h
 *		  What the fuzz harness files share; the design is described in
 *		  fuzz_main.c.
 *
 * Every target gets the input as a NUL-terminated copy of exactly
 * size + 1 malloc'd bytes, runs in a short-lived memory context, and
 * reports a broken invariant through FuzzFail(), which aborts so that
 * libFuzzer keeps the input as a crash artifact.  A target reaches a kind
 * only through the decoder its header exports (src/leg_<kind>.h), and is
 * compiled and linked as a file of its own.
 *
 * IDENTIFICATION
 *		  test/fuzz/fuzz.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_FUZZ_H
#define APEX_FUZZ_H

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

#include "apex_router.h"

/* the targets (fuzz_http.c, fuzz_redis.c, fuzz_postgres.c, fuzz_redact.c) */
extern void FuzzJson(const uint8 *data, size_t size);
extern void FuzzNeo4j(const uint8 *data, size_t size);
extern void FuzzQdrant(const uint8 *data, size_t size);
extern void FuzzKeyPath(const uint8 *data, size_t size);
extern void FuzzGraphiti(const uint8 *data, size_t size);
extern void FuzzEmbed(const uint8 *data, size_t size);
extern void FuzzEmbedMany(const uint8 *data, size_t size);
extern void FuzzRerank(const uint8 *data, size_t size);
extern void FuzzRedis(const uint8 *data, size_t size);
extern void FuzzPostgres(const uint8 *data, size_t size);
extern void FuzzRedact(const uint8 *data, size_t size);

/* checks (fuzz_main.c; FuzzCheckRemote: fuzz_redact.c) */
extern void FuzzFail(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();
extern void FuzzCheckError(const char *error);
extern void FuzzCheckItems(List *items);
extern void FuzzCheckRemote(const ApexRemote *said);

#endif							/* APEX_FUZZ_H */
