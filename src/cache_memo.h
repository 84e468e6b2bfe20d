/*-------------------------------------------------------------------------
 *
 * cache_memo.h
 *		  Result cache entries this backend has parsed (cache_memo.c).
 *
 * IDENTIFICATION
 *		  src/cache_memo.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_CACHE_MEMO_H
#define APEX_CACHE_MEMO_H

#include "utils/jsonb.h"

/* a result key's hash and an entry's digest: SHA-256 in hex */
#define APEX_MEMO_KEY_LEN 64

/* in cache_memo.c */
extern const char *ApexMemoDigest(const char *hash);
extern Jsonb *ApexMemoGet(const char *hash);
extern void ApexMemoPut(const char *hash, const char *digest, const Jsonb *doc);

#endif							/* APEX_CACHE_MEMO_H */
