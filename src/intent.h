/*-------------------------------------------------------------------------
 *
 * intent.h
 *		  Intent routing: the sources a question asks, and their weights,
 *		  chosen by the rules of apex_intent_rules.
 *
 * IDENTIFICATION
 *		  src/intent.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APEX_INTENT_H
#define APEX_INTENT_H

#include "apex_router.h"

/* One source a question asks */
typedef struct ApexIntentChoice
{
	ApexSource *source;
	double		weight;			/* its weight option times the rule's */
	List	   *intents;		/* char *: the intents of the rules choosing
								 * it; NIL when no rule did (a fallback) */
} ApexIntentChoice;

/* What the rules make of one question */
typedef struct ApexIntent
{
	List	   *intents;		/* char *: every intent matched, once each */
	/*
	 * ApexIntentChoice *, in the candidates' order: those the matching
	 * rules chose at their weights, and the others at their own (intents
	 * NIL) unless a rule that chose one is exclusive; every candidate at
	 * its own weight when they chose none (routed false)
	 */
	List	   *choices;
	bool		routed;
	/* the shortest half-life of the matching rules; 0: none */
	double		recency_half_life_ms;
	Interval   *recency_half_life;	/* the same, as the rule gave it; or NULL */
} ApexIntent;

/* apex_router.intent_routing */
extern bool apex_intent_routing;

/* in intent.c */
extern ApexIntent **ApexIntentsOf(const char *const *texts, int ntexts,
								  List *candidates);
extern double ApexIntervalMs(const Interval *interval);

#endif							/* APEX_INTENT_H */
