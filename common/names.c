/*
 * The names of channels, severities and delivery states, as they appear in
 * jobs, configuration and Redis. These spellings are public contract.
 */
#include <string.h>

#include "common/common.h"

static const char *const channel_names[TC_CH_COUNT] = { "email", "sms", "webhook" };
static const char *const severity_names[TC_SEV_COUNT] = {
	"critical", "high", "normal", "low"
};
static const char *const dstate_names[TC_DS_COUNT] = {
	"queued", "sending", "sent", "retrying", "delivered", "undelivered",
	"acknowledged", "failed", "expired", "cancelled"
};

static int lookup(const char *const *names, int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

const char *tc_channel_name(enum tc_channel c)
{
	return (unsigned)c < TC_CH_COUNT ? channel_names[c] : "?";
}

int tc_channel_parse(const char *s)
{
	return lookup(channel_names, TC_CH_COUNT, s);
}

const char *tc_severity_name(enum tc_severity s)
{
	return (unsigned)s < TC_SEV_COUNT ? severity_names[s] : "?";
}

int tc_severity_parse(const char *s)
{
	return lookup(severity_names, TC_SEV_COUNT, s);
}

const char *tc_dstate_name(enum tc_dstate s)
{
	return (unsigned)s < TC_DS_COUNT ? dstate_names[s] : "?";
}

int tc_dstate_parse(const char *s)
{
	return lookup(dstate_names, TC_DS_COUNT, s);
}

bool tc_dstate_final(enum tc_dstate s)
{
	switch (s) {
	case TC_DS_QUEUED:
	case TC_DS_SENDING:
	case TC_DS_RETRYING:
		return false;
	default:
		return true;
	}
}
