/* Admin calls and body printing for the CLI (see busctl.h). */
#include "busctl.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "commands.h"

static const char *error_code_name(int code)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &bulkhead__error__code__descriptor, code);

    return v ? v->name : "UNKNOWN";
}

int cli_admin_call(const char *what, const char *dst, bus_msg *req,
                   bus_msg **reply, int timeout_ms)
{
    struct bus *b = bus_open_admin();
    int rc;

    *reply = NULL;
    if (!b) {
        fprintf(stderr, "bulkhead: %s: system not running (no bus: %s)\n",
                what, strerror(errno));
        return EXIT_NOT_RUNNING;
    }
    rc = bus_call(b, dst, req, reply, timeout_ms);
    bus_close(b);
    if (rc < 0) {
        fprintf(stderr, "bulkhead: %s: %s\n", what,
                errno == ETIMEDOUT ? "no answer (timed out)" : strerror(errno));
        return errno == ETIMEDOUT ? EXIT_TIMEOUT : EXIT_NOT_RUNNING;
    }
    if ((*reply)->body_case == BULKHEAD__ENVELOPE__BODY_ERROR) {
        const Bulkhead__Error *e = (*reply)->error;
        fprintf(stderr, "bulkhead: %s: %s (%s)\n", what, e->message,
                error_code_name(e->code));
        rc = e->code == BULKHEAD__ERROR__CODE__DEADLINE ? EXIT_TIMEOUT
                                                         : EXIT_REFUSED;
        bus_free(*reply);
        *reply = NULL;
        return rc;
    }
    return 0;
}

void cli_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* The body message of M: the oneof member's pointer, found through the
 * descriptor so that new types print without code here. */
static const ProtobufCMessage *body_of(const bus_msg *m,
                                       const ProtobufCFieldDescriptor **fd)
{
    *fd = protobuf_c_message_descriptor_get_field(
        &bulkhead__envelope__descriptor, (unsigned)m->body_case);
    if (!*fd || (*fd)->type != PROTOBUF_C_TYPE_MESSAGE)
        return NULL;
    return *(const ProtobufCMessage *const *)((const char *)m +
                                              (*fd)->offset);
}

static void print_scalar(FILE *out, const ProtobufCFieldDescriptor *f,
                         const void *p, bool json)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        if (json)
            cli_json_string(out, *(char *const *)p);
        else
            fprintf(out, "%s", *(char *const *)p);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        fprintf(out, "%s", *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        fprintf(out, "%" PRIu32, *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        fprintf(out, "%" PRId32, *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        fprintf(out, "%" PRIu64, *(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        fprintf(out, "%" PRId64, *(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        fprintf(out, "%g", *(const double *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        fprintf(out, "%g", (double)*(const float *)p);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            f->descriptor, *(const int *)p);
        if (json)
            cli_json_string(out, v ? v->name : "?");
        else
            fprintf(out, "%s", v ? v->name : "?");
        break;
    }
    default:
        fprintf(out, json ? "null" : "?");
    }
}

void cli_print_body(FILE *out, const bus_msg *m, bool json)
{
    const ProtobufCFieldDescriptor *fd;
    const ProtobufCMessage *body = body_of(m, &fd);
    int n = 0;

    if (!body)
        return;
    for (unsigned i = 0; i < body->descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &body->descriptor->fields[i];
        const char *p = (const char *)body + f->offset;
        /* A oneof member that is not the active one shares its storage. */
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)body + f->quantifier_offset) !=
                f->id)
            continue;
        fprintf(out, json ? "%s\"%s\":" : "%s%s=", n++ ? (json ? "," : " ") : "",
                f->name);
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            fprintf(out, json ? "%zu" : "[%zu]",
                    *(const size_t *)((const char *)body + f->quantifier_offset));
        else if (f->type == PROTOBUF_C_TYPE_MESSAGE ||
                 f->type == PROTOBUF_C_TYPE_BYTES)
            fprintf(out, json ? "null" : "{..}");
        else
            print_scalar(out, f, p, json);
    }
}
