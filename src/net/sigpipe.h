/* Writing to a socket or pipe whose other end has gone raises SIGPIPE, and
 * libuv's stream writes do not ask the kernel to spare the process. Every
 * part of chainscope that writes to a stream calls this once when it starts,
 * so that a peer, client or child that goes away is an error on one
 * connection (EPIPE), never the end of the process. */
#ifndef CS_NET_SIGPIPE_H
#define CS_NET_SIGPIPE_H

void cs_ignore_sigpipe(void);

#endif
