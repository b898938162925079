/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Helpers over libyaml's document API for the route parser: errors with
 * file:line:col, strict mappings (scalar keys, no duplicates, known
 * fields), typed scalars. Private to agent/lib/routes*.c; knows nothing
 * of routes.
 */
#ifndef STEER_RYAML_H
#define STEER_RYAML_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

struct ry_ctx {
	yaml_document_t *doc;
	const char *file;
	char *err;
	size_t errlen;
};

/* Write "file:line:col: message" for @mark into c->err; returns -EINVAL. */
int ry_error_mark(struct ry_ctx *c, yaml_mark_t mark, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same, at the start of node @n. */
int ry_error(struct ry_ctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

yaml_node_t *ry_node(struct ry_ctx *c, int id);

/* An empty plain scalar, "~" or "null": YAML's null. */
bool ry_is_null(const yaml_node_t *n);

/* Keys one mapping may have (the largest real one has about ten). */
#define RY_MAX_KEYS 64

/*
 * Check that @n is a mapping whose keys are distinct scalars and, when
 * @fields (NULL-terminated) is given, all among @fields. @what names the
 * mapping in messages: 'unknown field "x" in backend'.
 */
int ry_map_check(struct ry_ctx *c, yaml_node_t *n, const char *what,
		 const char *const *fields);

/* Value node of @key in checked mapping @n, or NULL. */
yaml_node_t *ry_map_get(struct ry_ctx *c, yaml_node_t *n, const char *key);

/* Check that @n is a sequence ("@what must be a list"). */
int ry_seq(struct ry_ctx *c, yaml_node_t *n, const char *what);
/* Items of sequence @n, at most @max and at least 1: room to allocate. */
size_t ry_seq_room(const yaml_node_t *n, size_t max);

/* Scalar text of @n ("@what must be a string" otherwise). */
int ry_str(struct ry_ctx *c, yaml_node_t *n, const char *what,
	   const char **out);

/* Plain text of a scalar node, or NULL for other nodes. */
const char *ry_text(const yaml_node_t *n);

/* A string that is an integer from @min to @max, or the error "@msg". */
int ry_uint(struct ry_ctx *c, yaml_node_t *n, unsigned long long min,
	    unsigned long long max, const char *msg, unsigned long long *out);

#endif /* STEER_RYAML_H */
