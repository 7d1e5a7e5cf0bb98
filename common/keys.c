/*
 * Redis key names: the public contract of DESIGN.md, spelled in one place.
 * A job's keys carry its id in braces, <prefix>:job:{<id>}: a job id may
 * contain ':', and the braces keep "K1:events" from reaching job K1's
 * audit trail (and put one job's keys in one Redis Cluster hash slot).
 */
#include <stdio.h>

#include "common/common.h"

static int key(char *out, size_t n, int r)
{
	return r < 0 || (size_t)r >= n ? TC_ELIMIT : 0;
}

int tc_key_jobs(char *out, size_t n, const char *prefix, enum tc_severity s)
{
	return key(out, n, snprintf(out, n, "%s:jobs:%s", prefix, tc_severity_name(s)));
}

int tc_key_job(char *out, size_t n, const char *prefix, const char *job_id)
{
	return key(out, n, snprintf(out, n, "%s:job:{%s}", prefix, job_id));
}

int tc_key_deliveries(char *out, size_t n, const char *prefix, const char *job_id)
{
	return key(out, n, snprintf(out, n, "%s:job:{%s}:deliveries", prefix, job_id));
}

int tc_key_acks(char *out, size_t n, const char *prefix, const char *job_id)
{
	return key(out, n, snprintf(out, n, "%s:job:{%s}:acks", prefix, job_id));
}

int tc_key_job_events(char *out, size_t n, const char *prefix, const char *job_id)
{
	return key(out, n, snprintf(out, n, "%s:job:{%s}:events", prefix, job_id));
}

int tc_key_tombstone(char *out, size_t n, const char *prefix, const char *job_id)
{
	return key(out, n, snprintf(out, n, "%s:tombstone:{%s}", prefix, job_id));
}

int tc_key_retry(char *out, size_t n, const char *prefix)
{
	return key(out, n, snprintf(out, n, "%s:retry", prefix));
}

int tc_key_scheduled(char *out, size_t n, const char *prefix)
{
	return key(out, n, snprintf(out, n, "%s:scheduled", prefix));
}

int tc_key_dead(char *out, size_t n, const char *prefix)
{
	return key(out, n, snprintf(out, n, "%s:dead", prefix));
}

int tc_key_phone(char *out, size_t n, const char *prefix, const char *e164)
{
	return key(out, n, snprintf(out, n, "%s:phone:{%s}", prefix, e164));
}

int tc_key_events(char *out, size_t n, const char *prefix)
{
	return key(out, n, snprintf(out, n, "%s:events", prefix));
}

void tc_retain_args(struct tc_retain *out, uint64_t retention_ms, int64_t now_ms)
{
	snprintf(out->ttl, sizeof(out->ttl), "%llu", (unsigned long long)retention_ms);
	snprintf(out->tomb_ttl, sizeof(out->tomb_ttl), "%llu",
		 2 * (unsigned long long)retention_ms);
	tc_time_format(now_ms + (int64_t)retention_ms, out->expired_at,
		       sizeof(out->expired_at));
}
