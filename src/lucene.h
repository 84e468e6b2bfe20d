/*-------------------------------------------------------------------------
 *
 * lucene.h
 *		  The question as plain words for Lucene's classic query parser.
 *
 * IDENTIFICATION
 *		  src/lucene.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_LUCENE_H
#define APEX_LUCENE_H

extern char *ApexLuceneEscape(const char *text);

#endif							/* APEX_LUCENE_H */
