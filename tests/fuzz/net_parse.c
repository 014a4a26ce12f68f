/* libFuzzer target for net-manager's parsers of untrusted or hand-written
 * input: DNS answers (from whatever answers in a netvm) and firewall rule
 * lines (rules files).  The first byte picks the parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "services/net-manager/dnsq.h"
#include "services/net-manager/fwrule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        unsigned char addrs[8][16];
        int fams[8];
        unsigned id = size >= 3 ? (unsigned)data[1] << 8 | data[2] : 0;
        dnsq_parse(data + 1, size - 1, id, fams, addrs, 8);
    } else {
        char line[1200], err[256], out[1200];
        struct fw_rule r;
        size_t n = size - 1 < sizeof(line) - 1 ? size - 1 : sizeof(line) - 1;
        memcpy(line, data + 1, n);
        line[n] = '\0';
        if (fw_rule_parse_line(&r, line, err, sizeof(err)) == 0) {
            /* what parses must format and parse back to the same rule */
            struct fw_rule again;
            if (fw_rule_format(&r, out, sizeof(out)) < 0 ||
                fw_rule_parse_line(&again, out, err, sizeof(err)) < 0 ||
                !fw_rule_equal(&r, &again))
                __builtin_trap();
        }
    }
    return 0;
}
