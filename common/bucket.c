/*
 * Token buckets: at most burst + per_second * t units in any window of
 * length t. Sends reserve their units ahead: a reservation that cannot be
 * met now returns the first moment it can, and the bucket counts the units
 * as taken at that moment, so callers asking one after another get
 * successive slots instead of all waking at once.
 *
 * Keeps true: tokens never go below zero, and a reservation's time is never
 * earlier than the moment the bucket holds its units; sends made at their
 * times therefore stay inside the bound. (A send made later than its time
 * may bunch up with the ones due after it: the bound is for sends at their
 * times.) A message of more units than burst goes over burst by its own
 * excess, once; the bucket then stays empty while that excess refills, so
 * the rate holds over any longer window.
 */
#include <math.h>

#include "common/common.h"

/* The longest one reservation waits, about 139 years. The configuration
 * takes any decimal rate above 0 ("0.000...1"), and the wait for such a
 * rate does not fit an int64_t: converting it would be undefined, and the
 * rounding loop below would never end. A wait cut to this keeps the bound
 * over windows shorter than it. Below 2^53, ms differences stay exact in a
 * double. */
#define MAX_WAIT_MS ((int64_t)1 << 42)

void tc_bucket_init(struct tc_bucket *b, double per_second, unsigned burst,
		    int64_t now)
{
	b->per_ms = per_second > 0 ? per_second / 1000.0 : 0;
	b->burst = burst ? burst : (unsigned)ceil(per_second);
	b->tokens = b->burst;
	b->last_ms = now;
}

void tc_bucket_set(struct tc_bucket *b, double per_second, unsigned burst,
		   int64_t now)
{
	double tokens;

	if (b->per_ms == 0) {
		/* It counted nothing so far: it starts full. */
		tc_bucket_init(b, per_second, burst, now);
		return;
	}
	/* What was taken stays taken: the tokens it holds (never more than
	 * the new burst) and any time already reserved ahead. */
	tokens = tc_bucket_tokens(b, now);
	b->per_ms = per_second > 0 ? per_second / 1000.0 : 0;
	b->burst = burst ? burst : (unsigned)ceil(per_second);
	b->tokens = tokens < b->burst ? tokens : b->burst;
	if (b->last_ms < now)
		b->last_ms = now;
}

double tc_bucket_tokens(const struct tc_bucket *b, int64_t now)
{
	double t;

	if (b->per_ms == 0)
		return INFINITY;
	if (now <= b->last_ms)
		return b->tokens;
	t = b->tokens + (double)(now - b->last_ms) * b->per_ms;
	return t < b->burst ? t : b->burst;
}

double tc_bucket_owed(const struct tc_bucket *b, int64_t now)
{
	double owed;

	if (b->per_ms == 0 || now >= b->last_ms)
		return 0;
	/* Up to last_ms the bucket gains what it was promised; what it
	 * still holds there was not promised. */
	owed = (double)(b->last_ms - now) * b->per_ms - b->tokens;
	return owed > 0 ? owed : 0;
}

/* The whole ms it takes b to gain more tokens: at least 1, at most
 * MAX_WAIT_MS. */
static int64_t wait_ms(const struct tc_bucket *b, double more)
{
	double w = ceil(more / b->per_ms);

	if (!(w < (double)MAX_WAIT_MS)) /* NaN too */
		return MAX_WAIT_MS;
	return w >= 1 ? (int64_t)w : 1;
}

/* A message of more units than burst has just taken a full bucket, at
 * last_ms. The units past burst are paid for with time, as if the tokens
 * went below zero by them: the bucket stays empty until they would have
 * refilled, and what the rounding up to a whole ms gains is kept. Without
 * this such messages went out at units / burst times the rate. */
static void owe(struct tc_bucket *b, double excess)
{
	int64_t ahead = wait_ms(b, excess);
	double left = b->tokens + (double)ahead * b->per_ms - excess;

	b->last_ms += ahead;
	b->tokens = left > 0 ? (left < b->burst ? left : b->burst) : 0;
}

int64_t tc_bucket_reserve(struct tc_bucket *b, unsigned units, int64_t now)
{
	int64_t at = now > b->last_ms ? now : b->last_ms;
	double need = units, have;
	int i;

	if (b->per_ms == 0)
		return now;
	/* More than a full bucket never fits: it takes a full one and owes
	 * the rest (owe()). */
	if (need > b->burst)
		need = b->burst;
	have = tc_bucket_tokens(b, at);
	if (have < need) {
		at += wait_ms(b, need - have);
		have = tc_bucket_tokens(b, at);
		/* ceil() keeps it from falling short; rounding may, by an ulp
		 * or two, that a ms or two more make up. At a rate too low to
		 * make up an ulp in a few ms, what is missing is rounding (or
		 * the wait was cut): taken all the same, tokens stay >= 0. */
		for (i = 0; have < need && i < 4; i++)
			have = tc_bucket_tokens(b, ++at);
	}
	b->tokens = have > need ? have - need : 0;
	b->last_ms = at;
	if (units > b->burst)
		owe(b, units - b->burst);
	return at;
}
