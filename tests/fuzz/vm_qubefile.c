/* libFuzzer target for vm-manager's qube database files (qube_parse) and
 * the property value checks: anything that parses must serialize and parse
 * back to the same text, and every value qube_value_canon accepts must be
 * accepted again in its canonical form. */
#include "services/vm-manager/qube.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_values(const char *text)
{
    char out[300], out2[300], err[300];

    for (int p = 0; p < P_COUNT; p++)
        if (qube_value_canon(p, text, out, sizeof(out), err, sizeof(err)) ==
            0) {
            if (qube_value_canon(p, out, out2, sizeof(out2), err,
                                 sizeof(err)) != 0 || strcmp(out, out2))
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512], *text, *again, *again2;
    struct qube *q, *q2;

    if (size > 1 << 16)
        return 0;
    text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    if (size < 64)
        check_values(text);
    q = qube_parse("fuzz.conf", text, err, sizeof(err));
    if (q) {
        again = qube_serialize(q);
        q2 = again ? qube_parse("again.conf", again, err, sizeof(err)) : NULL;
        if (!q2)
            abort();
        again2 = qube_serialize(q2);
        if (!again2 || strcmp(again, again2))
            abort();
        free(again);
        free(again2);
        qube_free(q2);
        qube_free(q);
    }
    free(text);
    return 0;
}
