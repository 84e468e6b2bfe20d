/*-------------------------------------------------------------------------
 *
 * peer_encoding.h
 *		  Text crossing the network boundary: peers speak UTF-8, the
 *		  database may not.
 *
 * IDENTIFICATION
 *		  src/peer_encoding.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_PEER_ENCODING_H
#define APEX_PEER_ENCODING_H

/* What became of a peer's text on its way in */
typedef enum ApexPeerText
{
	APEX_PEER_TEXT_OK,
	APEX_PEER_TEXT_INVALID,		/* not valid UTF-8 */
	APEX_PEER_TEXT_UNTRANSLATABLE	/* a character the database lacks */
} ApexPeerText;

/*
 * The start of ApexPeerUntranslatable()'s sentence, for whoever must tell
 * it from other reasons (ApexJsonErrorCause gives it its SQLSTATE).
 */
#define APEX_PEER_UNTRANSLATABLE_START "The answer holds a character that has no equivalent in"

extern char *ApexToPeer(const char *text, int *sqlerrcode, char **error);
extern ApexPeerText ApexFromPeer(const char *data, int len, char **text);
extern char *ApexPeerUntranslatable(void);
extern char *ApexPeerWords(const char *data, int len);
extern bool ApexPeerNeedsConversion(void);

#endif							/* APEX_PEER_ENCODING_H */
