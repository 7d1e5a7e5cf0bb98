/* common's internal header: shared between common's own files only. */
#ifndef TC_COMMON_INTERNAL_H
#define TC_COMMON_INTERNAL_H

#include "common/common.h"

/* Reads a JSON array of channel names into a TC_CH_BIT mask; d names path. */
int tc_json_channels(json_t *v, unsigned *mask, const char *path,
		     struct tc_diag *d);
/* Reads a JSON string of at most max bytes (no NUL inside) into a new
 * string *dst; d names path.key. */
int tc_json_string(json_t *v, const char *path, const char *key, char **dst,
		   size_t max, struct tc_diag *d);

#endif
