// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>
#include "netlink.h"

/* Messages read per call at most: the loop gets back to other fds. */
#define READ_MAX 256

struct link_watch {
	struct nl_sock *sk;
	link_watch_fn fn;
	void *arg;
};

static void on_link(struct nl_object *obj, void *arg)
{
	struct link_watch *w = arg;
	struct rtnl_link *link = (struct rtnl_link *)obj;
	const char *name = rtnl_link_get_name(link);

	if (name)
		w->fn(w->arg, rtnl_link_get_ifindex(link), name);
}

static int on_msg(struct nl_msg *msg, void *arg)
{
	if (nlmsg_hdr(msg)->nlmsg_type == RTM_NEWLINK)
		nl_msg_parse(msg, on_link, arg);
	return NL_OK;
}

struct link_watch *link_watch_open(link_watch_fn fn, void *arg, char *err,
				   size_t errlen)
{
	struct link_watch *w = calloc(1, sizeof(*w));
	int ret = -NLE_NOMEM;

	if (!w || !(w->sk = nl_socket_alloc()))
		goto fail;
	w->fn = fn;
	w->arg = arg;
	/* Events are not answers to requests: no sequence numbers. */
	nl_socket_disable_seq_check(w->sk);
	ret = nl_socket_modify_cb(w->sk, NL_CB_VALID, NL_CB_CUSTOM, on_msg, w);
	if (!ret)
		ret = nl_connect(w->sk, NETLINK_ROUTE);
	if (!ret)
		ret = nl_socket_add_membership(w->sk, RTNLGRP_LINK);
	if (!ret)
		ret = nl_socket_set_nonblocking(w->sk);
	if (!ret)
		return w;
fail:
	snprintf(err, errlen, "cannot watch link events: %s", nl_geterror(ret));
	link_watch_close(w);
	return NULL;
}

int link_watch_fd(const struct link_watch *w)
{
	return nl_socket_get_fd(w->sk);
}

int link_watch_read(struct link_watch *w)
{
	for (int i = 0; i < READ_MAX; i++) {
		int ret = nl_recvmsgs_default(w->sk);

		if (ret == -NLE_NOMEM) /* ENOBUFS: events were dropped */
			return 1;
		if (ret < 0)
			break; /* -NLE_AGAIN: nothing more to read */
	}
	return 0;
}

void link_watch_close(struct link_watch *w)
{
	if (!w)
		return;
	if (w->sk)
		nl_socket_free(w->sk);
	free(w);
}
