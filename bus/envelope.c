/* Envelope decode/encode/validate and body names (see envelope.h). */
#include "bus/envelope.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/names.h"

bus_msg *bus_decode(const void *untrusted_buf, size_t len)
{
    if (!untrusted_buf || len > BUS_MAX_FRAME)
        return NULL;
    return bulkhead__envelope__unpack(NULL, len, untrusted_buf);
}

void bus_free(bus_msg *m)
{
    if (m)
        bulkhead__envelope__free_unpacked(m, NULL);
}

static int name_or_empty(const char *s)
{
    return !s || !*s || name_is_valid(s);
}

const char *bus_validate(const bus_msg *m)
{
    if (!m)
        return "not an envelope";
    if (!name_or_empty(m->src))
        return "bad src name";
    if (!name_or_empty(m->dst))
        return "bad dst name";
    if (m->body_case == BULKHEAD__ENVELOPE__BODY__NOT_SET)
        return "no (known) body";
    if (!strcmp(bus_body_name(m), "unknown"))
        return "unknown body";
    if ((!m->dst || !*m->dst) && m->reply_to != 0)
        return "reply without dst";
    if (m->dst && *m->dst && m->reply_to == 0 && m->id == 0)
        return "request without id";
    return NULL;
}

enum bus_kind bus_kind_of(const bus_msg *m)
{
    if (m->reply_to != 0)
        return BUS_KIND_REPLY;
    if (!m->dst || !*m->dst)
        return BUS_KIND_EVENT;
    return BUS_KIND_REQUEST;
}

uint8_t *bus_encode(const bus_msg *m, size_t *len_out)
{
    size_t len = bulkhead__envelope__get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);

    if (!buf)
        return NULL;
    *len_out = bulkhead__envelope__pack(m, buf);
    return buf;
}

/* The oneof member names come from the generated descriptor, so new
 * message types need no change here. */
const char *bus_body_name(const bus_msg *m)
{
    const ProtobufCMessageDescriptor *d = &bulkhead__envelope__descriptor;
    const ProtobufCFieldDescriptor *f;

    if (!m || m->body_case == BULKHEAD__ENVELOPE__BODY__NOT_SET)
        return "none";
    f = protobuf_c_message_descriptor_get_field(d, (unsigned)m->body_case);
    if (!f || !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return "unknown";
    return f->name;
}

uint64_t bus_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
