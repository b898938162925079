/* SPDX-License-Identifier: BSD-2-Clause */
/* Helpers over libyaml's document API for the route parser. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "addr.h"
#include "ryaml.h"

static int ry_verror(struct ry_ctx *c, yaml_mark_t mark, const char *fmt,
		     va_list ap)
{
	int n;

	n = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->file, mark.line + 1,
		     mark.column + 1);
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	return -EINVAL;
}

int ry_error_mark(struct ry_ctx *c, yaml_mark_t mark, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = ry_verror(c, mark, fmt, ap);
	va_end(ap);
	return ret;
}

int ry_error(struct ry_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = ry_verror(c, n->start_mark, fmt, ap);
	va_end(ap);
	return ret;
}

yaml_node_t *ry_node(struct ry_ctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

const char *ry_text(const yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

bool ry_is_null(const yaml_node_t *n)
{
	const char *s = ry_text(n);

	if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !s[0] || !strcmp(s, "~") || !strcmp(s, "null") ||
	       !strcmp(s, "Null") || !strcmp(s, "NULL");
}

int ry_str(struct ry_ctx *c, yaml_node_t *n, const char *what, const char **out)
{
	if (n->type != YAML_SCALAR_NODE || ry_is_null(n))
		return ry_error(c, n, "%s must be a string", what);
	/* A quoted "\0" would cut the C string short: refuse it. */
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return ry_error(c, n, "%s must not contain NUL", what);
	*out = (const char *)n->data.scalar.value;
	return 0;
}

int ry_seq(struct ry_ctx *c, yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return ry_error(c, n, "%s must be a list", what);
	return 0;
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++) {
		if (!strcmp(s, *list))
			return true;
	}
	return false;
}

int ry_map_check(struct ry_ctx *c, yaml_node_t *n, const char *what,
		 const char *const *fields)
{
	yaml_node_pair_t *p, *q;
	yaml_node_t *k, *k2;

	if (n->type != YAML_MAPPING_NODE)
		return ry_error(c, n, "%s must be a mapping", what);
	/*
	 * The duplicate check below is quadratic; no route-file mapping has
	 * anywhere near this many keys, so a huge one is refused up front.
	 */
	if (n->data.mapping.pairs.top - n->data.mapping.pairs.start >
	    RY_MAX_KEYS)
		return ry_error(c, n, "too many keys in %s: at most %d", what,
				RY_MAX_KEYS);
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		k = ry_node(c, p->key);
		if (!k || k->type != YAML_SCALAR_NODE ||
		    strlen(ry_text(k)) != k->data.scalar.length)
			return ry_error(c, k ? k : n,
					"keys in %s must be strings", what);
		/* libyaml keeps duplicate keys; YAML forbids them. */
		for (q = n->data.mapping.pairs.start; q < p; q++) {
			k2 = ry_node(c, q->key);
			if (!strcmp(ry_text(k), ry_text(k2)))
				return ry_error(c, k,
						"duplicate key \"%s\" in %s",
						ry_text(k), what);
		}
		if (fields && !in_list(ry_text(k), fields))
			return ry_error(c, k, "unknown field \"%s\" in %s",
					ry_text(k), what);
	}
	return 0;
}

yaml_node_t *ry_map_get(struct ry_ctx *c, yaml_node_t *n, const char *key)
{
	yaml_node_pair_t *p;

	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		const char *k = ry_text(ry_node(c, p->key));

		if (k && !strcmp(k, key))
			return ry_node(c, p->value);
	}
	return NULL;
}

/* A string that is an integer from @min to @max, or "@msg". */
int ry_uint(struct ry_ctx *c, yaml_node_t *n, unsigned long long min,
	    unsigned long long max, const char *msg, unsigned long long *out)
{
	const char *s = ry_text(n);

	if (!s || ry_is_null(n) || addr_parse_uint(s, min, max, out))
		return ry_error(c, n, "%s", msg);
	return 0;
}

size_t ry_seq_room(const yaml_node_t *n, size_t max)
{
	size_t len = (size_t)(n->data.sequence.items.top -
			      n->data.sequence.items.start);

	return len < 1 ? 1 : len > max ? max : len;
}
