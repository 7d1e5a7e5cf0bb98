/*
 * Unit tests of the token bucket (common/bucket.c) and the per-host rates
 * and holds (channels/hosts.c). Nothing here sleeps: the clock is plain ms
 * values the tests move themselves, and the senders are a seeded xorshift,
 * so a failure comes back the same on every run.
 *
 * The bound checked is the bucket's contract: at most burst + per_second * L
 * units in any window of length L, for sends made at the times the bucket
 * returned, with 1e-6 units allowed for floating point and no more.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "channels/internal.h"
#include "common/common.h"
#include "tc_test.h"

#define EPSILON 1e-6 /* units of floating point slack in a bound */
#define SENDS   4000 /* reservations per simulated run */

/* ---- a seeded PRNG (xorshift64) ------------------------------------------ */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

/* 0 .. n-1 (n > 0). */
static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return rng_next(r) % n;
}

/* ---- the bound over every window ------------------------------------------ */

struct send {
	int64_t at;     /* the time the bucket returned: the send goes then */
	unsigned units;
};

/* One simulated run: the rate, what each sender asks for and the clock. */
struct sim {
	double per_second;
	unsigned burst;     /* as given to tc_bucket_init (0: per_second) */
	unsigned max_units; /* each reservation takes 1 .. max_units */
	int64_t t0;
};

/* The bucket's burst as tc_bucket_init takes it. */
static double eff_burst(double per_second, unsigned burst)
{
	return burst ? burst : ceil(per_second);
}

/* How far the clock moves before the next sender asks: often not at all
 * (senders together), often about one reservation's time at the rate, and
 * now and then a pause long enough to fill the bucket. */
static int64_t sim_step(struct rng *r, const struct sim *c)
{
	double ms_per_unit = 1000.0 / c->per_second;
	double burst = eff_burst(c->per_second, c->burst);

	switch (rng_below(r, 8)) {
	case 0: case 1: case 2: case 3:
		return 0;
	case 4: case 5: case 6:
		return (int64_t)rng_below(r, (uint64_t)(c->max_units * ms_per_unit) + 2);
	default:
		return (int64_t)rng_below(r, (uint64_t)(4 * burst * ms_per_unit) + 2);
	}
}

/* Runs n reservations against a fresh bucket, the times returned in s[].
 * A quarter of the senders ask with a stale now (up to 100 ms old, as a
 * cached loop time is). Checks on the way that every time is >= the now
 * asked with and no earlier than the one before. */
static void simulate(const struct sim *c, uint64_t seed, struct send *s, size_t n)
{
	struct rng r = { seed };
	struct tc_bucket b;
	int64_t clock = c->t0, prev = INT64_MIN;
	size_t i, bad_now = 0, bad_order = 0;

	tc_bucket_init(&b, c->per_second, c->burst, c->t0);
	for (i = 0; i < n; i++) {
		int64_t now;

		clock += sim_step(&r, c);
		now = clock;
		if (rng_below(&r, 4) == 0)
			now -= (int64_t)rng_below(&r, 100);
		s[i].units = 1 + (unsigned)rng_below(&r, c->max_units);
		s[i].at = tc_bucket_reserve(&b, s[i].units, now);
		if (s[i].at < now && !bad_now++)
			tc_test_fail(__FILE__, __LINE__, "reservation %zu: %" PRId64
				     " is before now %" PRId64, i, s[i].at, now);
		if (s[i].at < prev && !bad_order++)
			tc_test_fail(__FILE__, __LINE__, "reservation %zu: %" PRId64
				     " is before the one before, %" PRId64, i, s[i].at, prev);
		prev = s[i].at;
	}
}

/* Checks units in [a, b] <= cap + per_second * (b - a) (ms); reports a
 * failure and returns false. */
static bool check_window(int64_t a, int64_t b, uint64_t units, double cap,
			 double per_second, const char *what)
{
	double bound = cap + per_second * (double)(b - a) / 1000.0;

	if ((double)units <= bound + EPSILON)
		return true;
	tc_test_fail(__FILE__, __LINE__, "%s: %" PRIu64 " units in [%" PRId64 ", %"
		     PRId64 "] (%" PRId64 " ms), more than %.9f", what, units, a, b,
		     b - a, bound);
	return false;
}

/* Every window between two send times (the tightest there are: a window's
 * units are those of the window from its first send to its last), then
 * windows of the given lengths starting at and ending at each send. s[] is
 * in time order (simulate checked it). cap is what a zero-length window
 * may hold. Stops at the first failure. */
static void check_bound(const struct send *s, size_t n, double cap,
			double per_second, const int64_t *lengths, size_t nl)
{
	uint64_t *sum = calloc(n + 1, sizeof(*sum)); /* sum[i]: units of s[0..i-1] */
	size_t i, j, k, lo, hi;

	TC_CHECK(sum != NULL);
	if (!sum)
		return;
	for (i = 0; i < n; i++)
		sum[i + 1] = sum[i] + s[i].units;
	for (i = 0; i < n; i++) {
		if (i > 0 && s[i].at == s[i - 1].at)
			continue; /* the window from the first send at this time */
		for (j = i; j < n; j++) {
			if (j + 1 < n && s[j + 1].at == s[j].at)
				continue; /* ... to the last send at that time */
			if (!check_window(s[i].at, s[j].at, sum[j + 1] - sum[i], cap,
					  per_second, "between sends"))
				goto out;
		}
	}
	for (k = 0; k < nl; k++) {
		int64_t L = lengths[k];

		/* [s[i].at, s[i].at + L]: sends lo..hi-1 */
		for (lo = 0, hi = 0; lo < n; lo++) {
			if (lo > 0 && s[lo].at == s[lo - 1].at)
				continue;
			while (hi < n && s[hi].at <= s[lo].at + L)
				hi++;
			if (!check_window(s[lo].at, s[lo].at + L, sum[hi] - sum[lo], cap,
					  per_second, "from a send"))
				goto out;
		}
		/* [s[j].at - L, s[j].at]: sends lo..j */
		for (lo = 0, j = 0; j < n; j++) {
			while (s[lo].at < s[j].at - L)
				lo++;
			if (!check_window(s[j].at - L, s[j].at, sum[j + 1] - sum[lo], cap,
					  per_second, "to a send"))
				goto out;
		}
	}
out:
	free(sum);
}

static const int64_t lengths[] = {
	0, 1, 2, 3, 10, 99, 100, 101, 999, 1000, 1001, 1999, 2000, 2001, 5000,
	60000, 1000000, 3600000,
};
#define NLENGTHS (sizeof(lengths) / sizeof(lengths[0]))

/* One simulated run, checked over every window. A single message of more
 * units than burst cannot fit any window of length 0, so with such
 * messages the cap is the largest message: one message may go over burst
 * by its own excess, but the rate holds over every longer window. */
static void sim_check(const struct sim *c, uint64_t seed)
{
	struct send *s = calloc(SENDS, sizeof(*s));
	double burst = eff_burst(c->per_second, c->burst);
	double cap = c->max_units > burst ? c->max_units : burst;

	TC_CHECK(s != NULL);
	if (!s)
		return;
	simulate(c, seed, s, SENDS);
	check_bound(s, SENDS, cap, c->per_second, lengths, NLENGTHS);
	free(s);
}

static void test_bound_fits(void)
{
	static const struct sim c[] = {
		{ 0.5, 1, 1, 1000000 },      /* fractional */
		{ 0.5, 0, 1, 1000000 },      /* burst 0: per_second rounded up */
		{ 1, 3, 1, 1000000 },        /* small */
		{ 1, 3, 3, 1000000 },
		{ 7, 2, 2, 1000000 },        /* 0.007/ms: not exact in binary */
		{ 0.3, 2, 1, 1000000 },
		{ 10000, 100, 10, 1000000 }, /* large */
		{ 10000, 100, 100, 1000000 },
	};
	size_t i;

	tc_test_begin("bucket: at most burst + per_second * L in every window");
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		sim_check(&c[i], 0x9e3779b97f4a7c15ULL + i);
}

static void test_bound_over(void)
{
	static const struct sim c[] = {
		{ 1, 3, 8, 1000000 },
		{ 0.5, 1, 3, 1000000 },
		{ 10000, 10, 40, 1000000 },
		{ 7, 2, 5, 1000000 },
	};
	size_t i;

	tc_test_begin("bucket: more units than burst keep the rate over every window");
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		sim_check(&c[i], 0x2545f4914f6cdd1dULL + i);
}

static void test_bound_seeds(void)
{
	struct sim c = { 1, 3, 3, 1000000 };
	uint64_t seed;

	tc_test_begin("bucket: the bound holds for many seeds");
	for (seed = 1; seed <= 8; seed++)
		sim_check(&c, seed);
}

/* ---- the long-run rate ------------------------------------------------------ */

/* Reserves units at a time, total units, back to back from t0: either all
 * asked at t0 (a queue) or each asked when the one before was due (a
 * sender that waits). The last one is due at t0 + (total - burst) /
 * per_second (total - units when units > burst: the last message waits
 * for a full bucket, not for its own units).
 *
 * The tolerance: times are whole ms, so a reservation waits until the ms
 * after the moment its units are there. The fraction of a unit gained in
 * that part of a ms is kept as tokens, and then rounding does not add up:
 * 1 ms over the whole run. Only when the bucket fills up in that part of
 * a ms (burst < units + per_ms: the fraction would go over burst) is it
 * lost, and each reservation may be up to 1 ms late: 1 ms per
 * reservation. Either way the rate over the run is within 1%. */
static void long_run(double per_second, unsigned burst, unsigned units,
		     uint64_t total, bool waits)
{
	const int64_t t0 = 5000;
	struct tc_bucket b;
	double big = burst > units ? burst : units;
	double want = ceil((double)(total - (uint64_t)big) * 1000.0 / per_second);
	double late = burst >= units + per_second / 1000 ? 1 : (double)(total / units);
	double rate;
	uint64_t done;
	int64_t at = t0;

	tc_bucket_init(&b, per_second, burst, t0);
	for (done = 0; done < total; done += units)
		at = tc_bucket_reserve(&b, units, waits ? at : t0);
	if ((double)(at - t0) < want - 1 || (double)(at - t0) > want + late)
		tc_test_fail(__FILE__, __LINE__, "%g/s burst %u, %u units a time, %" PRIu64
			     " units%s: the last at t0 + %" PRId64 " ms, want %.0f - 1 .. + %.0f",
			     per_second, burst, units, total, waits ? " (waiting)" : "",
			     at - t0, want, late);
	rate = (double)total * 1000.0 / (double)(at - t0);
	if (fabs(rate - per_second) > per_second / 100)
		tc_test_fail(__FILE__, __LINE__, "%g/s burst %u, %u units a time: "
			     "%.6f/s over the run, more than 1%% off", per_second,
			     burst, units, rate);
}

static void test_long_run(void)
{
	tc_test_begin("bucket: back to back, the last one is due at t0 + (N - burst) / rate");
	long_run(0.5, 1, 1, 2000, false);
	long_run(0.5, 1, 1, 2000, true);
	long_run(1, 3, 1, 3000, false);
	long_run(1, 3, 3, 3000, true);
	long_run(1, 3, 2, 3000, false);
	long_run(7, 2, 1, 7000, false);
	long_run(7, 2, 1, 7000, true);
	long_run(0.3, 1, 1, 1000, false);
	long_run(10000, 100, 1, 1000000, false);
	long_run(10000, 100, 7, 1000006, true);
	long_run(0.001, 1, 1, 200, false);
}

static void test_long_run_over(void)
{
	tc_test_begin("bucket: more units than burst, back to back, keep the rate");
	long_run(1, 1, 4, 4000, false);
	long_run(1, 3, 5, 5000, true);
	long_run(0.5, 1, 3, 3000, false);
	long_run(1000, 10, 150, 150000, false);
}

/* ---- reservations one by one ------------------------------------------------- */

static void test_fits(void)
{
	struct tc_bucket b;

	tc_test_begin("bucket: a reservation that fits is now and takes tokens");
	tc_bucket_init(&b, 1, 3, 1000);
	TC_CHECK(tc_bucket_tokens(&b, 1000) == 3);
	TC_CHECK_INT(tc_bucket_reserve(&b, 2, 1000), 1000);
	TC_CHECK(tc_bucket_tokens(&b, 1000) == 1);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, 1000), 1000);
	TC_CHECK(tc_bucket_tokens(&b, 1000) == 0);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, 1000), 2000);
	TC_CHECK_INT(tc_bucket_reserve(&b, 2, 1000), 4000);
	TC_CHECK(tc_bucket_tokens(&b, 4000) == 0);
	TC_CHECK(fabs(tc_bucket_tokens(&b, 4500) - 0.5) < 1e-9);
	/* Idle, it fills to burst and no further. */
	TC_CHECK(tc_bucket_tokens(&b, 100000) == 3);
	TC_CHECK_INT(tc_bucket_reserve(&b, 3, 100000), 100000);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, 100000), 101000);

	tc_test_begin("bucket: burst 0 is per_second rounded up");
	tc_bucket_init(&b, 2.5, 0, 0);
	TC_CHECK(tc_bucket_tokens(&b, 0) == 3);
	tc_bucket_init(&b, 0.2, 0, 0);
	TC_CHECK(tc_bucket_tokens(&b, 0) == 1);

	tc_test_begin("bucket: zero units take nothing");
	tc_bucket_init(&b, 1, 1, 0);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, 0), 0);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, 0), 1000); /* reserved ahead */
	TC_CHECK(tc_bucket_reserve(&b, 0, 10) <= 1000);
	TC_CHECK(tc_bucket_tokens(&b, 1000) == 0);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, 10), 2000);
}

static void test_owed(void)
{
	struct tc_bucket b;

	tc_test_begin("bucket: owed counts the units reserved ahead, not yet gained");
	tc_bucket_init(&b, 1, 3, 1000);
	TC_CHECK(tc_bucket_owed(&b, 1000) == 0);
	TC_CHECK_INT(tc_bucket_reserve(&b, 3, 1000), 1000);
	TC_CHECK(tc_bucket_owed(&b, 1000) == 0); /* taken, none held */
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, 1000), 2000);
	TC_CHECK(fabs(tc_bucket_owed(&b, 1000) - 1) < 1e-9);
	TC_CHECK_INT(tc_bucket_reserve(&b, 2, 1000), 4000);
	TC_CHECK(fabs(tc_bucket_owed(&b, 1000) - 3) < 1e-9);
	TC_CHECK(fabs(tc_bucket_owed(&b, 2500) - 1.5) < 1e-9);
	TC_CHECK(tc_bucket_owed(&b, 4000) == 0);
	TC_CHECK(tc_bucket_owed(&b, 9000) == 0);
	/* More than burst at once: the excess is owed. */
	tc_bucket_init(&b, 1, 2, 0);
	TC_CHECK_INT(tc_bucket_reserve(&b, 5, 0), 0);
	TC_CHECK(fabs(tc_bucket_owed(&b, 0) - 3) < 1e-9);
	tc_bucket_init(&b, 0, 0, 0);
	TC_CHECK_INT(tc_bucket_reserve(&b, 5, 0), 0);
	TC_CHECK(tc_bucket_owed(&b, 0) == 0);
}

static void test_unlimited(void)
{
	struct tc_bucket b;
	unsigned i;

	tc_test_begin("bucket: unlimited returns now and takes nothing");
	tc_bucket_init(&b, 0, 0, 1000);
	TC_CHECK(isinf(tc_bucket_tokens(&b, 1000)));
	for (i = 0; i < 1000; i++)
		TC_CHECK_INT(tc_bucket_reserve(&b, 1 + i * 1000, 1000), 1000);
	TC_CHECK_INT(tc_bucket_reserve(&b, UINT32_MAX, 999), 999);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, 5), 5);
}

static void test_monotonic(void)
{
	struct rng r = { 42 };
	struct tc_bucket b;
	int64_t clock = 0, prev = 0;
	int i;

	tc_test_begin("bucket: reservations are monotonic and never before now");
	tc_bucket_init(&b, 3, 2, 0);
	for (i = 0; i < 20000; i++) {
		int64_t now, at;

		clock += (int64_t)rng_below(&r, 700);
		now = clock - (int64_t)rng_below(&r, 3000); /* stale or not */
		at = tc_bucket_reserve(&b, 1 + (unsigned)rng_below(&r, 3), now);
		if (at < now || at < prev) {
			tc_test_fail(__FILE__, __LINE__, "reservation %d: %" PRId64
				     " (now %" PRId64 ", the one before %" PRId64 ")",
				     i, at, now, prev);
			break;
		}
		prev = at;
	}
}

/* ---- reload ------------------------------------------------------------------- */

/* The same reservations to two buckets, one of them reloaded with the
 * same rate every 50: with now before what is reserved ahead (at the low
 * rates) or after it (at the high ones). */
static void reload_same(double per_second, unsigned burst, uint64_t seed)
{
	struct rng r = { seed };
	struct tc_bucket b, same;
	int64_t clock = 1000;
	int i;

	tc_bucket_init(&b, per_second, burst, clock);
	same = b;
	for (i = 0; i < 2000; i++) {
		unsigned units = 1 + (unsigned)rng_below(&r, 3);
		int64_t a, a2;

		clock += (int64_t)rng_below(&r, 400);
		if (i % 50 == 25)
			tc_bucket_set(&same, per_second, burst, clock);
		a = tc_bucket_reserve(&b, units, clock);
		a2 = tc_bucket_reserve(&same, units, clock);
		if (a != a2) {
			tc_test_fail(__FILE__, __LINE__, "%g/s: reservation %d at %"
				     PRId64 " reloaded, %" PRId64 " not", per_second,
				     i, a2, a);
			return;
		}
	}
}

static void test_reload_same(void)
{
	tc_test_begin("bucket: reload with the same rate keeps the state exactly");
	reload_same(0.3, 2, 7);
	reload_same(1, 3, 8);
	reload_same(7, 4, 9);
	reload_same(333.3, 5, 10);
	reload_same(10000, 6, 11);
}

static void test_reload_burst(void)
{
	struct tc_bucket b;

	tc_test_begin("bucket: reload to a lower burst cuts the tokens held");
	tc_bucket_init(&b, 10, 10, 0);
	TC_CHECK(tc_bucket_tokens(&b, 5000) == 10);
	tc_bucket_set(&b, 10, 4, 5000);
	TC_CHECK(tc_bucket_tokens(&b, 5000) == 4);
	TC_CHECK(tc_bucket_tokens(&b, 60000) == 4);
	TC_CHECK_INT(tc_bucket_reserve(&b, 4, 5000), 5000);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, 5000), 5100);

	tc_test_begin("bucket: reload to a higher burst adds no tokens");
	tc_bucket_init(&b, 1, 2, 0);
	TC_CHECK_INT(tc_bucket_reserve(&b, 2, 0), 0);
	tc_bucket_set(&b, 1, 10, 0);
	TC_CHECK(tc_bucket_tokens(&b, 0) == 0);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, 0), 1000);
	TC_CHECK(tc_bucket_tokens(&b, 100000) == 10);
}

static void test_reload_ahead(void)
{
	static const double to[] = { 100, 0.1, 1 };
	struct tc_bucket b;
	int64_t last = 0, at;
	size_t k;
	int i;

	tc_test_begin("bucket: reload keeps time reserved ahead");
	for (k = 0; k < sizeof(to) / sizeof(to[0]); k++) {
		tc_bucket_init(&b, 1, 1, 0);
		for (i = 0; i < 10; i++)
			last = tc_bucket_reserve(&b, 1, 0);
		TC_CHECK_INT(last, 9000);
		tc_bucket_set(&b, to[k], 1, 10);
		at = tc_bucket_reserve(&b, 1, 10);
		if (at < last)
			tc_test_fail(__FILE__, __LINE__, "reload to %g/s: %" PRId64
				     ", before %" PRId64 " reserved before it", to[k], at, last);
	}
}

static void test_reload_unlimited(void)
{
	struct tc_bucket b;
	int i;

	tc_test_begin("bucket: reload from unlimited to limited starts full");
	tc_bucket_init(&b, 0, 0, 0);
	for (i = 0; i < 100; i++)
		TC_CHECK_INT(tc_bucket_reserve(&b, 5, 0), 0);
	tc_bucket_set(&b, 2, 5, 100);
	TC_CHECK(tc_bucket_tokens(&b, 100) == 5);
	TC_CHECK_INT(tc_bucket_reserve(&b, 5, 100), 100);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, 100), 600);

	tc_test_begin("bucket: reload from limited to unlimited returns now");
	tc_bucket_init(&b, 1, 1, 0);
	for (i = 0; i < 5; i++)
		(void)tc_bucket_reserve(&b, 1, 0);
	tc_bucket_set(&b, 0, 0, 10);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, 10), 10);
	TC_CHECK_INT(tc_bucket_reserve(&b, 100, 10), 10);
}

/* ---- hosts --------------------------------------------------------------------- */

static int64_t host_reserve(struct tc_hosts *h, const char *host, int64_t now)
{
	return tc_hosts_reserve(h, host, strlen(host), 1, now);
}

static void host_hold(struct tc_hosts *h, const char *host, int64_t until, int64_t now)
{
	tc_hosts_hold(h, host, strlen(host), until, now);
}

static const char *host_name(char *buf, size_t n, size_t i)
{
	snprintf(buf, n, "h%zu.Example.org", i);
	return buf;
}

static void test_hosts_hold(void)
{
	struct tc_rate_cfg rate = { 10, 10 };
	struct tc_hosts *h = tc_hosts_new(&rate);

	tc_test_begin("hosts: a hold delays its host and no other");
	TC_CHECK(h != NULL);
	host_hold(h, "a.example.org", 5000, 1000);
	TC_CHECK(host_reserve(h, "a.example.org", 1000) >= 5000);
	TC_CHECK_INT(host_reserve(h, "b.example.org", 1000), 1000);
	TC_CHECK_INT(host_reserve(h, "b.example.org", 1000), 1000);
	/* A shorter hold does not shorten it. */
	host_hold(h, "a.example.org", 2000, 1000);
	TC_CHECK(host_reserve(h, "a.example.org", 1000) >= 5000);
	TC_CHECK_INT(host_reserve(h, "a.example.org", 6000), 6000);
	tc_hosts_free(h);

	h = tc_hosts_new(NULL);
	TC_CHECK(h != NULL);
	host_hold(h, "a.example.org", 5000, 1000);
	TC_CHECK_INT(host_reserve(h, "a.example.org", 1000), 5000);
	TC_CHECK_INT(host_reserve(h, "a.example.org", 1000), 5000);
	TC_CHECK_INT(host_reserve(h, "b.example.org", 1000), 1000);
	TC_CHECK_INT(host_reserve(h, "a.example.org", 5001), 5001);
	tc_hosts_free(h);
}

static void test_hosts_names(void)
{
	struct tc_rate_cfg rate = { 10, 10 };
	struct tc_hosts *h = tc_hosts_new(&rate);

	tc_test_begin("hosts: names are case-insensitive and len bytes long");
	TC_CHECK(h != NULL);
	host_hold(h, "Mixed.Example.ORG", 9000, 1000);
	TC_CHECK(host_reserve(h, "mixed.example.org", 1000) >= 9000);
	TC_CHECK(host_reserve(h, "MIXED.EXAMPLE.ORG", 1000) >= 9000);
	TC_CHECK(tc_hosts_reserve(h, "mixed.example.org:8443/x", 17, 1, 1000) >= 9000);
	TC_CHECK_INT(tc_hosts_count(h), 1);
	TC_CHECK_INT(host_reserve(h, "mixed.example.or", 1000), 1000);
	TC_CHECK_INT(tc_hosts_count(h), 2);
	tc_hosts_free(h);
}

static void test_hosts_rate(void)
{
	struct tc_rate_cfg rate = { 1, 5 }, lower = { 1, 1 };
	struct tc_hosts *h = tc_hosts_new(&lower);
	int i;

	tc_test_begin("hosts: each host has its own bucket");
	TC_CHECK(h != NULL);
	TC_CHECK_INT(host_reserve(h, "a", 0), 0);
	TC_CHECK_INT(host_reserve(h, "a", 0), 1000);
	TC_CHECK_INT(host_reserve(h, "b", 0), 0);
	TC_CHECK_INT(host_reserve(h, "A", 0), 2000);
	tc_hosts_free(h);

	tc_test_begin("hosts: a new rate applies to the hosts already there");
	h = tc_hosts_new(&rate);
	TC_CHECK(h != NULL);
	TC_CHECK_INT(host_reserve(h, "a", 0), 0); /* 4 left */
	tc_hosts_set_rate(h, &lower, 0);          /* cut to 1 */
	TC_CHECK_INT(host_reserve(h, "a", 0), 0);
	TC_CHECK_INT(host_reserve(h, "a", 0), 1000);
	tc_hosts_set_rate(h, NULL, 0);
	for (i = 0; i < 10; i++)
		TC_CHECK_INT(host_reserve(h, "a", 0), 0);
	tc_hosts_free(h);

	/* Held without a rate, then given one: it starts full after the hold. */
	h = tc_hosts_new(NULL);
	TC_CHECK(h != NULL);
	host_hold(h, "a", 3000, 0);
	tc_hosts_set_rate(h, &lower, 0);
	TC_CHECK_INT(host_reserve(h, "a", 0), 3000);
	TC_CHECK_INT(host_reserve(h, "a", 0), 4000);
	tc_hosts_free(h);
}

static void test_hosts_untracked(void)
{
	struct tc_rate_cfg zero = { 0, 0 };
	struct tc_hosts *h = tc_hosts_new(NULL), *z = tc_hosts_new(&zero);
	char name[64];
	size_t k;

	tc_test_begin("hosts: with no rate and no hold nothing is tracked");
	TC_CHECK(h != NULL && z != NULL);
	for (k = 0; k < 1000; k++) {
		TC_CHECK_INT(host_reserve(h, host_name(name, sizeof(name), k), 5), 5);
		TC_CHECK_INT(host_reserve(z, name, 5), 5);
	}
	TC_CHECK_INT(tc_hosts_count(h), 0);
	TC_CHECK_INT(tc_hosts_count(z), 0);
	tc_hosts_free(z);

	tc_test_begin("hosts: with no rate only held hosts are tracked");
	host_hold(h, "held.example.org", 60000, 0);
	TC_CHECK_INT(tc_hosts_count(h), 1);
	for (k = 0; k < TC_LIMIT_HOSTS + 10; k++)
		TC_CHECK_INT(host_reserve(h, host_name(name, sizeof(name), k), 5), 5);
	TC_CHECK_INT(tc_hosts_count(h), 1);
	/* Others' sends do not push the held host out. */
	TC_CHECK_INT(host_reserve(h, "held.example.org", 5), 60000);
	TC_CHECK_INT(tc_hosts_count(h), 1);
	/* Once its hold has passed, it is forgotten. */
	TC_CHECK_INT(host_reserve(h, "held.example.org", 60000), 60000);
	TC_CHECK_INT(tc_hosts_count(h), 0);
	tc_hosts_free(h);
}

static void test_hosts_lru(void)
{
	struct tc_rate_cfg rate = { 1, 1 };
	struct tc_hosts *h = tc_hosts_new(&rate);
	char name[64];
	size_t k, n = TC_LIMIT_HOSTS + 10, bad = 0;

	tc_test_begin("hosts: at most TC_LIMIT_HOSTS, the least recently used forgotten");
	TC_CHECK(h != NULL);
	for (k = 0; k < n; k++)
		host_hold(h, host_name(name, sizeof(name), k), 100000 + (int64_t)k, 0);
	TC_CHECK_INT(tc_hosts_count(h), TC_LIMIT_HOSTS);
	/* The most recent TC_LIMIT_HOSTS are held still ... */
	for (k = n; k-- > n - TC_LIMIT_HOSTS;) {
		int64_t at = host_reserve(h, host_name(name, sizeof(name), k), 0);

		if (at != 100000 + (int64_t)k && !bad++)
			tc_test_fail(__FILE__, __LINE__, "%s: %" PRId64 ", want %" PRId64,
				     name, at, 100000 + (int64_t)k);
	}
	TC_CHECK_INT(tc_hosts_count(h), TC_LIMIT_HOSTS);
	/* ... the 10 oldest are forgotten: free to go now. */
	for (k = 0; k < 10; k++)
		TC_CHECK_INT(host_reserve(h, host_name(name, sizeof(name), k), 0), 0);
	TC_CHECK_INT(tc_hosts_count(h), TC_LIMIT_HOSTS);
	tc_hosts_free(h);
}

static void test_hosts_touch(void)
{
	struct tc_rate_cfg rate = { 1, 1 };
	struct tc_hosts *h = tc_hosts_new(&rate);
	char name[64];
	size_t k;

	tc_test_begin("hosts: a use makes a host recent");
	TC_CHECK(h != NULL);
	for (k = 0; k < TC_LIMIT_HOSTS; k++)
		TC_CHECK_INT(host_reserve(h, host_name(name, sizeof(name), k), 0), 0);
	/* h0 used again: h1 is now the oldest. */
	TC_CHECK_INT(host_reserve(h, host_name(name, sizeof(name), 0), 0), 1000);
	TC_CHECK_INT(host_reserve(h, "new.example.org", 0), 0);
	TC_CHECK_INT(tc_hosts_count(h), TC_LIMIT_HOSTS);
	TC_CHECK_INT(host_reserve(h, host_name(name, sizeof(name), 0), 0), 2000);
	TC_CHECK_INT(host_reserve(h, host_name(name, sizeof(name), 2), 0), 1000);
	TC_CHECK_INT(host_reserve(h, host_name(name, sizeof(name), 1), 0), 0);
	tc_hosts_free(h);
	tc_hosts_free(NULL);
}

/* ---- bad values ------------------------------------------------------------------ */

#define HUGE_MS (INT64_MAX / 4)

static void test_huge_times(void)
{
	static const struct sim c[] = {
		{ 1, 3, 3, HUGE_MS },
		{ 0.5, 1, 2, HUGE_MS },
		{ 10000, 100, 10, HUGE_MS - 1000000 },
	};
	struct tc_bucket b;
	struct tc_rate_cfg rate = { 1, 1 };
	struct tc_hosts *h = tc_hosts_new(&rate);
	size_t i;

	tc_test_begin("bucket: huge times keep the bound");
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		sim_check(&c[i], 99 + i);
	tc_bucket_init(&b, 1, 1, 0);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, HUGE_MS), HUGE_MS);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, HUGE_MS), HUGE_MS + 1000);
	TC_CHECK(tc_bucket_tokens(&b, HUGE_MS + 1000) == 0);
	TC_CHECK(tc_bucket_tokens(&b, HUGE_MS * 2) == 1);
	tc_bucket_set(&b, 2, 2, HUGE_MS * 2);
	TC_CHECK(tc_bucket_tokens(&b, HUGE_MS * 2) == 1);

	tc_test_begin("hosts: holds at huge times");
	TC_CHECK(h != NULL);
	host_hold(h, "a", HUGE_MS + TC_RETRY_AFTER_MAX_MS, HUGE_MS);
	TC_CHECK_INT(host_reserve(h, "a", HUGE_MS), HUGE_MS + TC_RETRY_AFTER_MAX_MS);
	TC_CHECK_INT(host_reserve(h, "a", HUGE_MS), HUGE_MS + TC_RETRY_AFTER_MAX_MS + 1000);
	TC_CHECK_INT(host_reserve(h, "b", HUGE_MS), HUGE_MS);
	tc_hosts_free(h);
}

static void test_fast_rate(void)
{
	struct sim c = { 1e6, 1, 1, 1000 };
	struct tc_bucket b;
	int64_t at = 0;
	int i;

	tc_test_begin("bucket: 1e6/s burst 1 keeps the bound (one per ms)");
	sim_check(&c, 5);
	/* Times are whole ms, and no window of length 0 holds more than
	 * burst: one unit per ms is the most burst 1 allows. */
	tc_bucket_init(&b, 1e6, 1, 0);
	for (i = 0; i < 1000; i++)
		at = tc_bucket_reserve(&b, 1, 0);
	TC_CHECK_INT(at, 999);
	tc_bucket_init(&b, 1e6, 0, 0);
	TC_CHECK(tc_bucket_tokens(&b, 0) == 1e6);
	c.burst = 0;
	c.max_units = 50000;
	sim_check(&c, 6);
}

static void test_slow_rate(void)
{
	struct sim c = { 0.001, 1, 1, 1000 };
	struct tc_bucket b;

	tc_test_begin("bucket: 0.001/s keeps the bound");
	sim_check(&c, 7);
	c.burst = 3;
	c.max_units = 5;
	sim_check(&c, 8);
	tc_bucket_init(&b, 0.001, 1, HUGE_MS);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, HUGE_MS), HUGE_MS);
	TC_CHECK_INT(tc_bucket_reserve(&b, 1, HUGE_MS), HUGE_MS + 1000000);
}

/* The configuration takes any decimal above 0 ("0.000...1") and a burst
 * up to 1000000: the waits at such rates do not fit an int64_t. They are
 * cut at about 139 years; check they are long, and in order. */
static void test_tiny_rate(void)
{
	static const double tiny[] = { 0.001, 1e-12, 1e-22, 1e-300 };
	const int64_t century_ms = 100 * 365 * 86400000LL;
	struct tc_bucket b;
	int64_t at, prev;
	size_t k;
	int i;

	tc_test_begin("bucket: the most units at the lowest rates neither overflow nor hang");
	for (k = 0; k < sizeof(tiny) / sizeof(tiny[0]); k++) {
		tc_bucket_init(&b, tiny[k], 1000000, HUGE_MS);
		prev = tc_bucket_reserve(&b, 1000000, HUGE_MS);
		TC_CHECK_INT(prev, HUGE_MS);
		for (i = 1; i < 20; i++) {
			at = tc_bucket_reserve(&b, i % 2 ? UINT32_MAX : 1000000, HUGE_MS);
			if (at < prev || (k > 0 && at - prev < century_ms)) {
				tc_test_fail(__FILE__, __LINE__, "%g/s: reservation %d at %"
					     PRId64 ", the one before %" PRId64, tiny[k], i,
					     at, prev);
				break;
			}
			prev = at;
		}
		TC_CHECK(tc_bucket_tokens(&b, prev) >= 0);
	}
}

int main(void)
{
	test_bound_fits();
	test_bound_over();
	test_bound_seeds();
	test_long_run();
	test_long_run_over();
	test_fits();
	test_owed();
	test_unlimited();
	test_monotonic();
	test_reload_same();
	test_reload_burst();
	test_reload_ahead();
	test_reload_unlimited();
	test_hosts_hold();
	test_hosts_names();
	test_hosts_rate();
	test_hosts_untracked();
	test_hosts_lru();
	test_hosts_touch();
	test_huge_times();
	test_fast_rate();
	test_slow_rate();
	test_tiny_rate();
	return tc_test_done();
}
