/* Socket addresses from text: "127.0.0.1:9464", "[::1]:8333", "localhost:80"
 * (localhost only: no DNS here, so nothing blocks), and back. */
#ifndef CS_NET_ADDR_H
#define CS_NET_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Parses host:port. default_port is used when the text has no port
 * (0: a port is required). */
int cs_addr_parse(const char *text, uint16_t default_port, struct sockaddr_storage *out);
/* "1.2.3.4:8333" or "[::1]:8333". Returns out. */
const char *cs_addr_format(const struct sockaddr *sa, char *out, size_t len);
bool cs_addr_is_loopback(const struct sockaddr *sa);

/* Opens a blocking stream connection to the unix socket at path
 * (close-on-exec). Returns the descriptor, or CS_EINVAL when the path does
 * not fit in sun_path, CS_EIO when no socket can be made, or -errno of the
 * failed connect (-ENOENT: no such socket, -ECONNREFUSED: nobody listens). */
int cs_unix_connect(const char *path);

#endif
