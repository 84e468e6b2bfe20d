/*-------------------------------------------------------------------------
 *
 * leg.c
 *		  What every leg shares: outcome recording, items, HTTP requests.
 *
 * IDENTIFICATION
 *		  src/leg.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "catalog/pg_collation.h"
#include "utils/formatting.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "apex_router.h"
#include "breaker.h"
#include "io_http.h"
#include "iso_time.h"
#include "leg.h"
#include "plan.h"
#include "peer_encoding.h"
#include "source_slots.h"
#include "transport.h"

/* how much of each of a peer's words a failure keeps (redact.c shows less) */
#define APEX_REMOTE_MAX_BYTES 65536

static void apex_leg_vfail(ApexLeg *leg, int sqlerrcode,
						   const ApexRemote *remote, const char *fmt,
						   va_list args) pg_attribute_printf(4, 0);

static char *
apex_remote_copy(const char *text)
{
	/* a body can be large: what the excerpt can show is far less */
	return text ? pnstrdup(text, APEX_REMOTE_MAX_BYTES) : NULL;
}

static void
apex_leg_vfail(ApexLeg *leg, int sqlerrcode, const ApexRemote *remote,
			   const char *fmt, va_list args)
{
	StringInfoData buf;
	ApexSource *peer = remote ? remote->peer : leg->awaiting;

	initStringInfo(&buf);
	/* the only peer a leg asks besides its source is its embedder */
	if (peer && peer != leg->source)
		appendStringInfo(&buf, "Embedder \"%s\" failed. ", peer->name);
	for (;;)
	{
		va_list		copy;
		int			needed;

		va_copy(copy, args);
		needed = appendStringInfoVA(&buf, fmt, copy);
		va_end(copy);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	leg->error = buf.data;
	leg->sqlerrcode = sqlerrcode;
	if (remote && remote->text)
	{
		leg->remote = palloc(sizeof(ApexRemote));
		*leg->remote = *remote;
		leg->remote->text = apex_remote_copy(remote->text);
		leg->remote->detail = apex_remote_copy(remote->detail);
		leg->remote->hint = apex_remote_copy(remote->hint);
	}
	leg->items = NIL;
	leg->done = true;
	leg->trace.source_failed = leg->trace.started != 0 && (peer == NULL || peer == leg->source);
	if (leg->trace.status == APEX_LEG_RUNNING)
		leg->trace.status = APEX_LEG_ERROR;
	leg->trace.ended = GetCurrentTimestamp();
	ApexSlotLegDone(leg);
}

/*
 * Record why the leg failed, with its SQLSTATE: fmt makes one or more
 * sentences in our own words, and must not format anything a remote peer
 * sent (see ApexLegFailRemote).  While the leg waits for its embedder, the
 * cause is the embedder's, and the message says so.  The first failure wins.
 */
void
ApexLegFail(ApexLeg *leg, int sqlerrcode, const char *fmt,...)
{
	va_list		args;

	if (leg->done)
		return;
	va_start(args, fmt);
	apex_leg_vfail(leg, sqlerrcode, NULL, fmt, args);
	va_end(args);
}

/*
 * Record a failure with what the peer said about it (remote->text, may be
 * NULL): the cause in our own words, the peer's kept apart for
 * ApexRemoteDetail().  A remote->peer that is not the leg's source is its
 * embedder, and the message says so.
 */
void
ApexLegFailRemote(ApexLeg *leg, int sqlerrcode, const ApexRemote *remote,
				  const char *fmt,...)
{
	va_list		args;

	if (leg->done)
		return;
	va_start(args, fmt);
	apex_leg_vfail(leg, sqlerrcode, remote, fmt, args);
	va_end(args);
}

/*
 * A leg of its own for a request that serves no one question (a batch's
 * embeddings, a reranking), not in call->legs: source's timeout_ms,
 * capped by timeout_ms (the call's; 0: none), is its clock's budget.
 */
ApexLeg *
ApexLegOwn(ApexCall *call, ApexSource *source, void *state, int timeout_ms)
{
	ApexLeg    *own = palloc0(sizeof(ApexLeg));

	own->call = call;
	own->source = source;
	own->state = state;
	own->budget_ms = source->timeout_ms;
	if (timeout_ms > 0)
		own->budget_ms = Min(own->budget_ms, timeout_ms);
	return own;
}

/*
 * The leg of a planned source asking query, added to call->legs: failed
 * already when the plan failed it or its circuit breaker is open.
 */
ApexLeg *
ApexLegOfPlan(ApexCall *call, const ApexPlannedLeg *planned, const ApexQuery *query)
{
	ApexLeg    *leg = palloc0(sizeof(ApexLeg));

	leg->call = call;
	leg->source = planned->source;
	leg->query = query;
	leg->budget_ms = planned->budget_ms;
	leg->weight = planned->weight;
	call->legs = lappend(call->legs, leg);
	if (planned->error)
	{
		/* failed at planning: it fails without a request */
		leg->trace.status = APEX_LEG_REFUSED;
		ApexLegFail(leg, planned->sqlerrcode, "%s", planned->error);
		leg->hint = planned->hint;
	}
	else
		ApexBreakerAdmit(leg);
	return leg;
}

/*
 * An item's time from its source's time_field: an ISO 8601 string or a
 * number of seconds since the Unix epoch; DT_NOBEGIN when it has none
 */
static TimestampTz
apex_item_time(const ApexSource *source, const ApexItem *item)
{
	JsonbValue *fields = source->kind->item_fields
		? source->kind->item_fields(item->raw) : item->raw;
	JsonbValue *value = ApexJsonPathGet(ApexJsonObject(fields), source->time_field);
	TimestampTz at;
	double		seconds;

	if (value && value->type == jbvString &&
		ApexParseIsoTimestamp(ApexJsonScalarText(value), &at))
		return at;
	if (ApexJsonNumber(value, &seconds) && !isnan(seconds) &&
		fabs(seconds) < 1e12)
	{
		at = (TimestampTz) ((seconds - (double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
							 SECS_PER_DAY) * USECS_PER_SEC);
		if (IS_VALID_TIMESTAMP(at))
			return at;
	}
	return DT_NOBEGIN;
}

/*
 * The items' times (time_field), and the items outside the question's time
 * range (params' since and until) left out: every kind's, whether or not
 * its request could say the range.  An item without a time stays: the
 * range bounds what is dated.
 */
static List *
apex_items_in_range(ApexLeg *leg, List *items)
{
	const ApexQuery *query = leg->query;
	List	   *kept = NIL;
	ListCell   *lc;

	if (leg->source->time_field == NULL)
		return items;
	foreach(lc, items)
	{
		ApexItem   *item = lfirst(lc);

		item->at = apex_item_time(leg->source, item);
		if (item->at != DT_NOBEGIN &&
			(item->at < query->since || item->at > query->until))
			continue;
		kept = lappend(kept, item);
	}
	return kept;
}

/*
 * A failed leg's words for the caller and for the log
 * (leg->words_client, words_log, words_hint), shown or withheld by
 * ApexRemoteDetail(): worked out once, whoever asks first.  The caller's
 * role does not change within a call.
 */
void
ApexLegWords(ApexLeg *leg)
{
	if (leg->words_client == NULL)
		ApexRemoteDetail(leg->error, leg->remote, &leg->words_client,
						 &leg->words_log, &leg->words_hint);
}

void
ApexLegFinish(ApexLeg *leg, List *items)
{
	if (leg->done)
		return;
	leg->items = apex_items_in_range(leg, items);
	leg->done = true;
	leg->trace.status = APEX_LEG_OK;
	leg->trace.ended = GetCurrentTimestamp();
	ApexSlotLegDone(leg);
}

/*
 * count items of the leg's answer were skipped, for the reason why (a
 * sentence in our words): one WARNING after the call says so (router.c);
 * the leg itself has not failed.  An item without an id is skipped this
 * way by every kind that can meet one (issue 11 item 5): it is never given
 * another id, nor dropped unseen.
 */
void
ApexLegSkipped(ApexLeg *leg, int count, char *why)
{
	leg->skipped = count;
	leg->skipped_why = why;
}

/*
 * raw is kept as it is, not copied: a JSON object, a tree (the part of the
 * parsed answer that is the item, or one built of its parts) or a jsonb's
 * container; fusion makes the payload of the items it returns from it
 */
ApexItem *
ApexItemMake(const char *id, const char *title, const char *content,
			 double score, JsonbValue *raw)
{
	ApexItem   *item = palloc(sizeof(ApexItem));

	item->id = pstrdup(id);
	item->title = title ? pstrdup(title) : NULL;
	item->content = content ? pstrdup(content) : NULL;
	item->score = score;
	item->raw = raw;
	item->at = DT_NOBEGIN;
	item->vector = NULL;
	item->vector_dim = 0;
	return item;
}

/*
 * An item from a row of text values (sql and postgres sources): columns
 * id, title, content, score come first, every column goes into the raw
 * JSON.  Returns NULL when the id is null (*bad_score false: the row is
 * skipped) or, with *bad_score true, when the score (values[3]) is not a
 * number.
 */
ApexItem *
ApexRowItem(int ncols, const char *const *names, const char *const *values,
			bool *bad_score)
{
	JsonbParseState *raw;
	double		score = NAN;

	*bad_score = false;
	if (ncols < 1 || values[0] == NULL)
		return NULL;
	if (ncols > 3 && values[3] != NULL)
	{
		char	   *end;

		errno = 0;
		score = strtod(values[3], &end);
		if (end == values[3] || *end != '\0' || errno == ERANGE)
		{
			*bad_score = true;
			return NULL;
		}
	}
	ApexJsonBeginObject(&raw);
	for (int c = 0; c < ncols; c++)
		ApexJsonPutText(&raw, names[c], values[c]);
	return ApexItemMake(values[0], ncols > 1 ? values[1] : NULL,
						ncols > 2 ? values[2] : NULL, score, ApexJsonEndObject(&raw));
}

/* Is status a success (2xx)? */
static bool
apex_http_2xx(long status)
{
	return status >= 200 && status <= 299;
}

/*
 * The reason a response's status is not a success (2xx), else NULL, with
 * the server's words in *remote: its message as the kind finds it in the
 * JSON body (doc, NULL when the body is not JSON), else the raw body.
 * Pure, for the decoders.
 */
char *
ApexNot2xx(long status, StringInfo body, JsonbValue *doc, ApexErrorMessage message,
		   ApexRemote *remote)
{
	if (apex_http_2xx(status))
		return NULL;
	remote->text = doc ? message(doc) : NULL;
	if (remote->text == NULL)
	{
		/* in the database encoding, as far as it goes */
		remote->text = ApexPeerWords(body->data, body->len);
		remote->body = true;
	}
	return psprintf("The server answered with HTTP status %ld.", status);
}

/*
 * A successful answer that says it is not JSON (an HTML page from a proxy,
 * say): the reason, with the Content-Type in *remote, else NULL.  A missing
 * Content-Type is given the benefit of the doubt.
 */
static char *
apex_not_json(ApexHttpResponse *resp, ApexRemote *remote)
{
	char	   *lower;

	if (!apex_http_2xx(resp->status) || resp->content_type == NULL)
		return NULL;
	/* application/json, application/json;charset=UTF-8, .../problem+json */
	lower = str_tolower(resp->content_type, strlen(resp->content_type),
						DEFAULT_COLLATION_OID);
	if (strstr(lower, "json") != NULL)
		return NULL;
	remote->text = psprintf("Content-Type: %s", resp->content_type);
	return psprintf("The server answered with HTTP status %ld and a Content-Type that is not JSON.",
					resp->status);
}

/*
 * The one completion path of every HTTP request a leg sends, to peer (the
 * leg's source, or its embedder: then the message names it).  No HTTP
 * answer fails the leg with the transport's words and SQLSTATE; a 2xx that
 * is not JSON, or a response decode (given state) rejects, fails it with
 * those words (for a 429 or 503 that was not retried, with the reason why,
 * which names the status).  Returns true when decode made *result; the
 * caller goes on from there.
 */
bool
ApexLegDecode(ApexLeg *leg, ApexHttpResponse *resp, ApexSource *peer,
			  ApexDecoder decode, const void *state, void *result)
{
	ApexRemote	remote = {.peer = peer};
	char	   *error;

	if (resp->body)
		leg->trace.bytes += resp->body->len;
	if (peer == leg->source && !resp->error)
		leg->trace.http_status = resp->status;
	if (peer == leg->source)
	{
		leg->trace.connect_ms = resp->connect_ms;
		leg->trace.first_byte_ms = resp->first_byte_ms;
	}
	if (resp->error)
	{
		remote.text = (char *) resp->peer_detail;
		remote.from = "libcurl";
		ApexLegFailRemote(leg, resp->sqlerrcode, &remote, "%s", resp->error);
		return false;
	}
	if ((error = apex_not_json(resp, &remote)) ||
		(error = decode(state, resp->status, resp->body, result, &remote)))
	{
		/* a 429 or 503 not retried: why, in place of the status sentence */
		if (resp->not_retried)
			error = (char *) resp->not_retried;
		/* a decoder may know better (an untranslatable character) */
		ApexLegFailRemote(leg, remote.sqlerrcode ? remote.sqlerrcode : ERRCODE_FDW_ERROR,
						  &remote, "%s", error);
		return false;
	}
	return true;
}

/* Finish a search leg from its source's response: its items, or why not */
void
ApexLegComplete(ApexLeg *leg, ApexHttpResponse *resp, ApexDecoder decode)
{
	List	   *items;

	if (ApexLegDecode(leg, resp, leg->source, decode, leg->state, &items))
		ApexLegFinish(leg, items);
}

/*
 * The same for a decoder that makes an ApexItemsSkipped: the items, and
 * one WARNING after the call for those skipped, saying why.
 */
void
ApexLegCompleteSkipping(ApexLeg *leg, ApexHttpResponse *resp,
						ApexDecoder decode, const char *why)
{
	ApexItemsSkipped decoded;

	if (!ApexLegDecode(leg, resp, leg->source, decode, leg->state, &decoded))
		return;
	if (decoded.skipped > 0)
		ApexLegSkipped(leg, decoded.skipped, pstrdup(why));
	ApexLegFinish(leg, decoded.items);
}

/*
 * The leg's clock ran out, or the call's deadline passed: the leg fails
 * and its requests still in flight are abandoned, on every transport (a
 * transport bounds only its connects: this is the one deadline of a leg).
 */
void
ApexLegTimedOut(ApexLeg *leg)
{
	char	   *waited;
	bool		own;

	if (leg->done)
		return;
	/* a leg still queued for a request slot has sent nothing: say so */
	waited = ApexSlotTimedOut(leg, leg->budget_ms);
	ApexTransportsCancel(leg->call, leg);
	/* the source's own timeout_ms ran out, not the caller's deadline */
	own = waited == NULL && leg->budget_ms >= leg->source->timeout_ms &&
		(leg->call->deadline == DT_NOEND || GetCurrentTimestamp() < leg->call->deadline);
	leg->trace.status = APEX_LEG_TIMEOUT;
	ApexLegFail(leg, ERRCODE_FDW_ERROR, "%s",
				waited ? waited : ApexTimedOut(leg->budget_ms));
	leg->trace.source_failed &= own;
}

static void
apex_leg_deadline(void *arg)
{
	ApexLegTimedOut((ApexLeg *) arg);
}

/*
 * Start the clock of a remote leg: one timer in the call's loop bounds all
 * its requests, whatever the transport.  It runs out at the call's
 * deadline at the latest.  Time the loop could not listen (a local leg
 * ran) is not charged to a leg whose source was heard from meanwhile
 * (event_loop.c).
 */
void
ApexLegStartClock(ApexLeg *leg)
{
	leg->trace.started = GetCurrentTimestamp();
	ApexLoopSetTimer(leg->call->loop, leg, ApexLegBudgetMs(leg),
					 apex_leg_deadline);
}

/*
 * Start a remote leg: its clock, then its requests once it has a request
 * slot of its source (max_concurrent_requests, source_slots.c); until then
 * it waits in the call's loop, its clock running, while the other legs go
 * on.
 */
void
ApexLegStart(ApexLeg *leg)
{
	ApexLegStartClock(leg);
	if (ApexSlotTake(leg))
		leg->source->kind->start(leg);
}

/*
 * The leg's budget from now, in ms (at least 1): its source's timeout_ms,
 * ending at the call's deadline at the latest.  A local leg, which runs
 * without a clock in the loop, times itself with it.
 */
long
ApexLegBudgetMs(ApexLeg *leg)
{
	long		ms = leg->budget_ms;

	if (leg->call->deadline != DT_NOEND)
		ms = Min(ms, ApexMsUntil(leg->call->deadline));
	return ms;
}

/*
 * The connect timeout of a new connection to peer (the leg's source or its
 * embedder), in ms: the peer's connect_timeout_ms, capped by what is left of
 * the leg's budget (at least 1); the leg's clock bounds the rest.
 */
long
ApexLegConnectTimeoutMs(ApexLeg *leg, const ApexSource *peer)
{
	return Min(peer->connect_timeout_ms, ApexLoopTimeLeft(leg->call->loop, leg));
}

/*
 * One request a leg sent through ApexLegPost, kept for its one retry: a 429
 * (Too Many Requests) or 503 (Service Unavailable) answer whose Retry-After
 * fits in what is left of the leg's budget is sent again once, after that
 * delay.  The wait is a timer of this request in the call's loop, so the
 * other legs run meanwhile and a cancel or statement_timeout acts as during
 * any other wait; the leg's clock runs on, so the retry has what is left.
 */
typedef struct ApexLegRequest
{
	ApexLeg    *leg;
	ApexHttpRequest req;		/* as sent; its done is ours */
	ApexHttpDone done;			/* the caller's */
	void	   *arg;
	ApexSource *peer;			/* for the retry's connect timeout */
	bool		retried;
} ApexLegRequest;

/* The retry's delay is over: send the request again */
static void
apex_leg_resend(void *arg)
{
	ApexLegRequest *lr = arg;

	/* a leg that is over sends nothing, as in ApexLegPost */
	if (lr->leg->done)
		return;
	lr->retried = true;
	lr->req.connect_timeout_ms = ApexLegConnectTimeoutMs(lr->leg, lr->peer);
	ApexHttpStart(lr->leg->call, &lr->req);
}

/*
 * A request of the leg was answered (or failed): retry a 429 or 503 once
 * when its Retry-After fits in the leg's time left, else hand the response
 * on, with the reason it was not retried for ApexLegDecode to give.  A 503
 * without Retry-After is an outage, not a request to wait: it is failed
 * with its status alone.
 */
static void
apex_leg_answered(void *arg, ApexHttpResponse *resp)
{
	ApexLegRequest *lr = arg;
	long		status = resp->status;
	long		left;

	if (resp->error || (status != 429 && status != 503))
	{
		lr->done(lr->arg, resp);
		return;
	}
	left = ApexLoopTimeLeft(lr->leg->call->loop, lr->leg);
	if (lr->retried)
		resp->not_retried = psprintf("The server answered with HTTP status %ld to the retry as well; a request is retried once at most.",
									 status);
	else if (resp->retry_after_s == APEX_RETRY_AFTER_BAD)
		resp->not_retried = psprintf("The server answered with HTTP status %ld and a Retry-After that is not one number of seconds or one HTTP date.",
									 status);
	else if (resp->retry_after_s == APEX_RETRY_AFTER_NONE)
	{
		if (status == 429)
			resp->not_retried = "The server answered with HTTP status 429 without a Retry-After.";
	}
	else if ((int64) resp->retry_after_s * 1000 >= left)
		resp->not_retried = psprintf("The server answered with HTTP status %ld and asked to be retried in %s%ld s, more than the time the source has left.",
									 status,
									 resp->retry_after_s >= APEX_RETRY_AFTER_MAX_S ? "over " : "",
									 resp->retry_after_s);
	else
	{
		ApexLoopSetTimer(lr->leg->call->loop, lr, resp->retry_after_s * 1000,
						 apex_leg_resend);
		return;
	}
	lr->done(lr->arg, resp);
}

/*
 * text (NULL: none) of a request of the leg to peer as the peer takes it,
 * in UTF-8 (peer_encoding.c), in *out; false when it cannot be, and the
 * leg has failed.
 */
static bool
apex_leg_to_peer(ApexLeg *leg, ApexSource *peer, const char *text,
				 const char **out)
{
	ApexRemote	remote = {.peer = peer};
	int			sqlerrcode;
	char	   *error;

	*out = text ? ApexToPeer(text, &sqlerrcode, &error) : NULL;
	if (text && *out == NULL)
	{
		ApexLegFailRemote(leg, sqlerrcode, &remote, "%s", error);
		return false;
	}
	return true;
}

/* Whether a "Name: value" list holds a header of header's name (any case) */
static bool
apex_leg_header_given(List *list, const char *header)
{
	size_t		len = strcspn(header, ":");
	ListCell   *lc;

	foreach(lc, list)
	{
		const char *other = lfirst(lc);

		if (strcspn(other, ":") == len && pg_strncasecmp(other, header, len) == 0)
			return true;
	}
	return false;
}

/*
 * Send one JSON POST for the leg to peer (a source: the leg's own, or its
 * embedder), bounded by the leg's clock.  done gets arg and the response
 * when it completes or fails, once, after the one retry a 429 or 503 may
 * get (apex_leg_answered).  A leg that is over sends nothing.  Every text
 * of the request, in the database encoding here, goes in UTF-8: a text
 * that cannot fails the leg, and nothing is sent.
 */
void
ApexLegPost(ApexLeg *leg, ApexSource *peer, const char *url, const char *body,
			List *headers, const ApexHttpAuth *auth, ApexHttpDone done,
			void *arg)
{
	ApexLegRequest *lr;
	ApexHttpRequest *req;
	/* every kind that speaks HTTP has these options first (option.h) */
	const ApexHttpConf *http = peer->conf;
	List	   *all;
	ListCell   *lc;

	if (leg->done)
		return;

	lr = palloc0(sizeof(ApexLegRequest));
	lr->leg = leg;
	lr->peer = peer;
	lr->done = done;
	lr->arg = arg;
	req = &lr->req;
	req->label = peer->name;
	/*
	 * The source's extra headers, then the mapping's (whose value replaces
	 * the source's of the same name), then the kind's own: option.c
	 * refuses the names the kind and libcurl set.
	 */
	all = NIL;
	foreach(lc, http->headers)
	{
		const char *header = lfirst(lc);

		if (!apex_leg_header_given(peer->secrets->headers, header))
			all = lappend(all, (char *) header);
	}
	all = list_concat(all, peer->secrets->headers);
	all = list_concat(all, headers);
	all = lappend(all, "Content-Type: application/json");
	if (auth && auth->bearer)
		all = lappend(all, psprintf("Authorization: Bearer %s", auth->bearer));
	if (auth && auth->api_key_header)
		all = lappend(all, psprintf("%s: %s", auth->api_key_header, auth->api_key));
	foreach(lc, all)
	{
		const char *header;

		if (!apex_leg_to_peer(leg, peer, lfirst(lc), &header))
			return;
		req->headers = lappend(req->headers, (char *) header);
	}
	if (!apex_leg_to_peer(leg, peer, url, &req->url) ||
		!apex_leg_to_peer(leg, peer, body, &req->body) ||
		!apex_leg_to_peer(leg, peer, auth ? auth->username : NULL, &req->username) ||
		!apex_leg_to_peer(leg, peer, auth ? auth->password : NULL, &req->password))
		return;
	req->connect_timeout_ms = ApexLegConnectTimeoutMs(leg, peer);
	req->owner = leg;
	req->ca_file = http->ca_file;
	req->tls_insecure = !http->tls_verify;
	req->proxy = http->proxy;
	if (http->proxy &&
		(!apex_leg_to_peer(leg, peer, peer->secrets->proxy_user, &req->proxy_username) ||
		 !apex_leg_to_peer(leg, peer, peer->secrets->proxy_password, &req->proxy_password)))
		return;
	req->done = apex_leg_answered;
	req->arg = lr;
	ApexHttpStart(leg->call, req);
}

/* base URL + path, without a doubled slash */
char *
ApexUrlJoin(const char *base, const char *path)
{
	int			len = strlen(base);

	while (len > 0 && base[len - 1] == '/')
		len--;
	return psprintf("%.*s%s", len, base, path);
}

/*
 * Percent-encode a URL path segment (RFC 3986 unreserved kept as is), in
 * the database encoding, as the UTF-8 a peer reads (RFC 3986, 2.5).  A
 * segment without a UTF-8 form (a SQL_ASCII database's bytes) is encoded
 * as it is: the peer then finds no such name, and says so.
 */
char *
ApexUrlEncode(const char *segment)
{
	StringInfoData buf;
	int			sqlerrcode;
	char	   *error;
	char	   *utf8 = ApexToPeer(segment, &sqlerrcode, &error);

	if (utf8)
		segment = utf8;
	initStringInfo(&buf);
	for (const unsigned char *p = (const unsigned char *) segment; *p; p++)
	{
		if (isalnum(*p) || strchr("-._~", *p))
			appendStringInfoChar(&buf, *p);
		else
			appendStringInfo(&buf, "%%%02X", *p);
	}
	return buf.data;
}
