/*-------------------------------------------------------------------------
 *
 * vector.h
 *		  Query vectors as little-endian float32 in base64: OpenAI's
 *		  encoding_format "base64", and how the cache keeps vectors.
 *
 * IDENTIFICATION
 *		  src/vector.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_VECTOR_H
#define APEX_VECTOR_H

/* in vector.c */
extern char *ApexVectorToBase64(const float4 *vector, int dim);
extern float4 *ApexVectorFromBase64(const char *b64, int len, int *dim,
									char **error);

#endif							/* APEX_VECTOR_H */
