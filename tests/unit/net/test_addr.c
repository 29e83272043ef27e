/* Tests cs_unix_connect (src/net/addr.c) against a real listening socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/error.h"
#include "net/addr.h"

static void test_unix_connect(void **state)
{
    (void)state;
    char dir[] = "/tmp/cs-addr-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/s.sock", dir);

    assert_int_equal(cs_unix_connect(path), -ENOENT);

    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(ls, 1), 0);
    int fd = cs_unix_connect(path);
    assert_true(fd >= 0);
    int peer = accept(ls, NULL, NULL);
    assert_true(peer >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    char c = 0;
    assert_int_equal(read(peer, &c, 1), 1);
    assert_int_equal(c, 'x');
    close(peer);
    close(fd);
    close(ls);

    /* Bound but nobody listening any more. */
    assert_int_equal(cs_unix_connect(path), -ECONNREFUSED);
    unlink(path);
    rmdir(dir);

    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = 0;
    assert_int_equal(cs_unix_connect(longpath), CS_EINVAL);
    assert_int_equal(cs_unix_connect(NULL), CS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_unix_connect)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
