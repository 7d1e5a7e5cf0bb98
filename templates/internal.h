/* templates' internal header: shared between templates/ files only. */
#ifndef TC_TEMPLATES_INTERNAL_H
#define TC_TEMPLATES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* Whether text/len is exactly one JSON text (RFC 8259, UTF-8), checked
 * without building it (jsoncheck.c). */
bool tc_json_valid(const char *text, size_t len);

#endif
