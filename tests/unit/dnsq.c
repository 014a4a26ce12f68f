/* The firewall's DNS stub: queries built right, answers parsed with every
 * bound checked (hostile packets refused, never read past the end). */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <string.h>

#include "services/net-manager/dnsq.h"

/* An answer to query ID for "a.b" with the given records appended. */
static size_t answer(unsigned char *p, unsigned id, int rcode,
                     const unsigned char *rrs, size_t rrlen, int ancount)
{
    size_t n = (size_t)dnsq_build(p, 512, id, "a.b", 1);
    p[2] |= 0x80;
    p[3] = (unsigned char)rcode;
    p[7] = (unsigned char)ancount;
    if (rrlen)
        memcpy(p + n, rrs, rrlen);
    return n + rrlen;
}

static const unsigned char rr_a[] = {
    0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7};
static const unsigned char rr_cname_then_aaaa[] = {
    0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12,
    0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

Test(dnsq, builds_a_query)
{
    unsigned char q[64];
    int n = dnsq_build(q, sizeof(q), 0x1234, "web.example", 1);
    const unsigned char want[] = {0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                                  3, 'w', 'e', 'b', 7, 'e', 'x', 'a', 'm',
                                  'p', 'l', 'e', 0, 0, 1, 0, 1};
    cr_assert_eq(n, (int)sizeof(want));
    cr_assert_arr_eq(q, want, sizeof(want));
    cr_assert_eq(dnsq_build(q, sizeof(q), 1, "a..b", 1), -1);
    cr_assert_eq(dnsq_build(q, sizeof(q), 1, "", 1), -1);
}

Test(dnsq, parses_a_and_aaaa_skipping_cname)
{
    unsigned char p[512], addrs[4][16];
    int fams[4];
    size_t n = answer(p, 7, 0, rr_a, sizeof(rr_a), 1);

    cr_assert_eq(dnsq_parse(p, n, 7, fams, addrs, 4), 1);
    cr_assert_eq(fams[0], AF_INET);
    cr_assert_eq(addrs[0][3], 7);
    n = answer(p, 8, 0, rr_cname_then_aaaa, sizeof(rr_cname_then_aaaa), 2);
    cr_assert_eq(dnsq_parse(p, n, 8, fams, addrs, 4), 1);
    cr_assert_eq(fams[0], AF_INET6);
    cr_assert_eq(addrs[0][15], 1);
}

Test(dnsq, refuses_hostile_answers)
{
    unsigned char p[512], addrs[4][16];
    int fams[4];
    size_t n = answer(p, 7, 0, rr_a, sizeof(rr_a), 1);

    cr_assert_eq(dnsq_parse(p, n, 8, fams, addrs, 4), -1, "wrong id");
    for (size_t cut = 0; cut < n; cut++)
        cr_assert_leq(dnsq_parse(p, cut, 7, fams, addrs, 4), 0,
                      "truncated at %zu", cut);
    n = answer(p, 7, 0, rr_a, sizeof(rr_a), 9); /* claims 9 records */
    cr_assert_eq(dnsq_parse(p, n, 7, fams, addrs, 4), -1);
    n = answer(p, 7, 3, NULL, 0, 0); /* NXDOMAIN */
    cr_assert_eq(dnsq_parse(p, n, 7, fams, addrs, 4), 0);
    /* rdlength running past the end */
    unsigned char bad[sizeof(rr_a)];
    memcpy(bad, rr_a, sizeof(bad));
    bad[11] = 200;
    n = answer(p, 7, 0, bad, sizeof(bad), 1);
    cr_assert_eq(dnsq_parse(p, n, 7, fams, addrs, 4), -1);
    /* a query (QR bit clear) is not an answer */
    n = (size_t)dnsq_build(p, sizeof(p), 7, "a.b", 1);
    cr_assert_eq(dnsq_parse(p, n, 7, fams, addrs, 4), -1);
}
