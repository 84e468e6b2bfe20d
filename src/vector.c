/*-------------------------------------------------------------------------
 *
 * vector.c
 *		  Query vectors as little-endian float32 in base64 (see vector.h).
 *
 * Pure: no I/O; the embedder's decoder and the cache both use it.
 *
 * IDENTIFICATION
 *		  src/vector.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/base64.h"

#include "vector.h"

char *
ApexVectorToBase64(const float4 *vector, int dim)
{
	uint8	   *raw = palloc(sizeof(float4) * dim);
	int			maxlen = pg_b64_enc_len(sizeof(float4) * dim) + 1;
	char	   *b64 = palloc(maxlen);
	int			n;

	for (int i = 0; i < dim; i++)
	{
		uint32		bits;

		memcpy(&bits, &vector[i], sizeof(bits));
		for (int b = 0; b < 4; b++)
			raw[4 * i + b] = (bits >> (8 * b)) & 0xff;
	}
	n = pg_b64_encode((const char *) raw, sizeof(float4) * dim, b64, maxlen);
	b64[Max(n, 0)] = '\0';
	return b64;
}

/*
 * The vector in b64 (len bytes), or NULL with *error set when it is not
 * base64 of whole float32 values.  Values are not checked for finiteness.
 */
float4 *
ApexVectorFromBase64(const char *b64, int len, int *dim, char **error)
{
	int			maxlen = pg_b64_dec_len(len);
	uint8	   *raw = palloc(maxlen);
	int			n = pg_b64_decode(b64, len, (char *) raw, maxlen);
	float4	   *vec;

	if (n < 0 || n % 4 != 0 || n == 0)
	{
		*error = "The embedding is not valid base64 float32 data.";
		return NULL;
	}
	*dim = n / 4;
	vec = palloc(sizeof(float4) * *dim);
	for (int i = 0; i < *dim; i++)
	{
		uint32		bits = (uint32) raw[4 * i] | (uint32) raw[4 * i + 1] << 8 |
			(uint32) raw[4 * i + 2] << 16 | (uint32) raw[4 * i + 3] << 24;

		memcpy(&vec[i], &bits, sizeof(float4));
	}
	return vec;
}
