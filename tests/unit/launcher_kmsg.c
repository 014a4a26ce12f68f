/* Parsing the kernel's seccomp audit record. */
#include "launcher/kmsg.h"

#include <criterion/criterion.h>

Test(kmsg, parse)
{
    const char *rec =
        "5,1234,635379427,-;audit: type=1326 audit(1795639694.233:2): "
        "auid=4294967295 uid=0 gid=0 ses=4294967295 pid=9012 "
        "comm=\"x\" exe=\"/x\" sig=31 arch=c000003e syscall=101 compat=0 "
        "ip=0x7feed5c8d34a code=0x80000000";

    cr_assert_eq(kmsg_parse_seccomp(rec, 9012), 101);
    cr_assert_eq(kmsg_parse_seccomp(rec, 901), -1);
    cr_assert_eq(kmsg_parse_seccomp("type=1300 pid=9012 syscall=1", 9012), -1);
}
