// SPDX-License-Identifier: BSD-2-Clause
/*
 * steerctl eject: take a backend out of rotation by hand (new connections
 * only; open ones stay). ctl_eject_run() also serves 'restore'.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "addr.h"
#include "ctl.h"

/*
 * Does backend @b match @want, the address as status prints it: with the
 * port for a backend that has one, bare for one that has none? With @loose
 * a bare address matches the host's backends on every port.
 */
static bool backend_matches(const struct steer_backend *b,
			    const struct route_addr *want, bool loose)
{
	if (b->family != want->family ||
	    memcmp(b->addr, want->addr, sizeof(b->addr)))
		return false;
	if (loose)
		return true;
	if (!want->has_port)
		return b->port == 0;
	return b->port && ntohs(b->port) == want->port;
}

/*
 * Eject or restore every backend matching @want; with @list (a JSON
 * array) record each as {version, address}. Returns the matches.
 */
static int mark(struct steer_route_cfg *cfg, const struct route_addr *want,
		bool loose, bool eject, struct json_object *list)
{
	char buf[64];
	int hits = 0;

	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
		struct steer_version *sv = &cfg->versions[v];

		for (int i = 0; i < sv->n_backends && i < ROUTE_MAX_BACKENDS;
		     i++) {
			struct steer_backend *b = &sv->backends[i];
			struct json_object *o;

			if (!backend_matches(b, want, loose))
				continue;
			hits++;
			if (!list)
				continue;
			if (eject) {
				b->flags |= STEER_BACKEND_EJECTED;
			} else {
				b->flags &= (__u8)~STEER_BACKEND_EJECTED;
				b->ejected_until_ns = 0;
			}
			addr_format(buf, sizeof(buf), b->family, b->addr,
				    ntohs(b->port));
			o = json_object_new_object();
			json_object_object_add(
				o, "version", json_object_new_string(sv->name));
			json_object_object_add(o, "address",
					       json_object_new_string(buf));
			json_object_array_add(list, o);
		}
	}
	return hits;
}

/*
 * restore: end the passive ejection of every backend matching @want, in
 * @list's order (mark()'s), and note in each entry whether one was ended.
 * CTL_OK, or CTL_ERR (printed) when it could not be done.
 */
static int end_passive(const struct ctl *c, const struct ctl_edit *e,
		       const struct route_addr *want, bool loose,
		       struct json_object *list)
{
	const struct steer_route_cfg *cfg = e->cfg;
	struct ctl_health h;
	size_t n = 0;
	int ret;

	ret = ctl_health_open(&e->m, &h);
	if (ret)
		return ctl_error(c, CTL_ERR,
				 "cannot load the program that ends a passive "
				 "ejection: %s",
				 strerror(-ret));
	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
		const struct steer_version *sv = &cfg->versions[v];

		for (int i = 0; i < sv->n_backends && i < ROUTE_MAX_BACKENDS;
		     i++) {
			const struct steer_backend *b = &sv->backends[i];

			if (!backend_matches(b, want, loose))
				continue;
			ret = ctl_health_restore(&h, (__u32)e->id,
						 sv->counter_slot,
						 b->counter_slot);
			if (ret < 0) {
				ctl_health_close(&h);
				return ctl_error(c, CTL_ERR,
						 "cannot end the passive "
						 "ejection of a backend: %s",
						 strerror(-ret));
			}
			json_object_object_add(
				json_object_array_get_idx(list, n++),
				"passive_ejection_ended",
				json_object_new_boolean(ret ==
							STEER_RESTORE_ENDED));
		}
	}
	ctl_health_close(&h);
	return CTL_OK;
}

int ctl_eject_run(struct ctl *c, int argc, char **argv, bool eject)
{
	const char *cmd = eject ? "eject" : "restore";
	struct json_object *list;
	struct route_addr want;
	struct ctl_edit e;
	bool loose;
	int ret;

	if (argc != 3)
		return ctl_error(c, CTL_USAGE, "%s: expected ROUTE BACKEND",
				 cmd);
	if (addr_parse(argv[2], &want))
		return ctl_error(
			c, CTL_ERR,
			"'%s' is not a backend address like "
			"10.244.2.7:9080, [fd00::7]:9080 or 10.244.2.9",
			argv[2]);
	ret = ctl_edit_begin(c, argv[1], &e);
	if (ret)
		goto out;
	/* Look before touching: an unknown backend changes nothing. */
	loose = false;
	if (!mark(e.cfg, &want, false, eject, NULL)) {
		loose = !want.has_port && mark(e.cfg, &want, true, eject, NULL);
		if (!loose) {
			ret = ctl_error(c, CTL_ERR,
					"route %s has no backend %s (see "
					"'steerctl status %s')",
					argv[1], argv[2], argv[1]);
			goto out;
		}
	}
	list = json_object_new_array();
	mark(e.cfg, &want, loose, eject, list);
	ret = ctl_edit_commit(c, &e);
	/* The publish first: when it fails, nothing has changed. */
	if (!ret && !eject)
		ret = end_passive(c, &e, &want, loose, list);
	if (ret) {
		json_object_put(list);
		goto out;
	}
	if (!c->json) {
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			struct json_object *o =
				json_object_array_get_idx(list, i);
			struct json_object *a, *v, *p = NULL;

			json_object_object_get_ex(o, "address", &a);
			json_object_object_get_ex(o, "version", &v);
			json_object_object_get_ex(o, "passive_ejection_ended",
						  &p);
			printf("%s %s (version %s)%s\n",
			       eject ? "ejected" : "restored",
			       json_object_get_string(a),
			       json_object_get_string(v),
			       json_object_get_boolean(p)
				       ? ": passive ejection ended"
				       : "");
		}
	}
	ctl_edit_report(c, &e, eject ? "ejected" : "restored", "backends",
			list);
out:
	ctl_edit_end(&e);
	return ret;
}

static int run_eject(struct ctl *c, int argc, char **argv)
{
	return ctl_eject_run(c, argc, argv, true);
}

const struct ctl_cmd ctl_cmd_eject = {
	.name = "eject",
	.run = run_eject,
	.summary = "stop sending new connections to a backend",
	.help = "Usage: steerctl eject ROUTE BACKEND\n"
		"Give BACKEND no new connections of ROUTE, in one atomic "
		"publish;\n"
		"its open connections stay. BACKEND is written as 'steerctl\n"
		"status' shows it: 10.244.2.7:9080, [fd00::7]:9080, or a bare\n"
		"address for a backend without a port. A bare address of a "
		"host\n"
		"whose backends all have ports ejects every port of that "
		"host.\n"
		"Every version that lists the backend loses it; each one is\n"
		"printed. If all backends of a version are ejected, its share\n"
		"goes to the rule's other versions.\n"
		"\n"
		"An override like 'set': 'steerctl restore' or 'steerctl\n"
		"rollback' undoes it, and so does a change of the route's "
		"file.\n"
		"\n"
		"Exit status: 0 ejected, 1 unknown route or backend, 2 usage.\n"
		"\n"
		"EXAMPLES\n"
		"  steerctl eject reviews 10.244.2.7:9080\n"
		"  steerctl eject reviews '[fd00::7]:9080'\n"
		"  steerctl -o json eject reviews 10.244.2.9\n",
};
