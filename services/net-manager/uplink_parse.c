/* Parsing and validation of sys-net's `uplink` setting (uplink.h), apart
 * from the wiring so that vm-manager can validate `prefs sys-net uplink`
 * with the very same rules without linking netlink code. */
#include "uplink.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

static int valid_addr(const char *s)
{
    unsigned char a[4];
    return inet_pton(AF_INET, s, a) == 1;
}

static int valid_cidr(const char *s)
{
    char host[48];
    const char *slash = strchr(s, '/');
    int n;

    if (!slash || (size_t)(slash - s) >= sizeof(host) ||
        sscanf(slash + 1, "%d", &n) != 1 || n < 1 || n > 32)
        return 0;
    memcpy(host, s, (size_t)(slash - s));
    host[slash - s] = '\0';
    return valid_addr(host);
}

static int take_option(struct uplink *u, const char *w, char *err,
                       size_t errlen)
{
    char *dst;
    size_t cap;

    if (!strncmp(w, "ip=", 3))
        dst = u->ip, cap = sizeof(u->ip);
    else if (!strncmp(w, "gw=", 3))
        dst = u->gw, cap = sizeof(u->gw);
    else if (!strncmp(w, "dns=", 4))
        dst = u->dns, cap = sizeof(u->dns);
    else
        return ERR("uplink: unknown option '%s'", w);
    w = strchr(w, '=') + 1;
    if (strlen(w) >= cap)
        return ERR("uplink: value too long");
    snprintf(dst, cap, "%s", w);
    return 0;
}

static int parse_mode(struct uplink *u, const char *w, char *err,
                      size_t errlen)
{
    if (!strcmp(w, "none"))
        u->mode = UPLINK_NONE;
    else if (!strcmp(w, "nat"))
        u->mode = UPLINK_NAT;
    else if (!strncmp(w, "netns:/", 7))
        u->mode = UPLINK_NETNS;
    else if (!strncmp(w, "dev:", 4) && w[4])
        u->mode = UPLINK_DEV;
    else
        return ERR("uplink: expected none, nat, netns:PATH or dev:IFNAME");
    if (u->mode == UPLINK_NETNS || u->mode == UPLINK_DEV) {
        const char *arg = strchr(w, ':') + 1;
        if (strlen(arg) >= sizeof(u->arg) || strstr(arg, ".."))
            return ERR("uplink: bad path or interface name");
        snprintf(u->arg, sizeof(u->arg), "%s", arg);
    }
    return 0;
}

int uplink_parse(const char *setting, struct uplink *u, char *err,
                 size_t errlen)
{
    char copy[512], *save = NULL, *w;
    int first = 1;

    memset(u, 0, sizeof(*u));
    if (!setting || !*setting)
        return 0;
    if (strlen(setting) >= sizeof(copy))
        return ERR("uplink: setting too long");
    snprintf(copy, sizeof(copy), "%s", setting);
    for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if ((first ? parse_mode(u, w, err, errlen)
                   : take_option(u, w, err, errlen)) < 0)
            return -1;
        first = 0;
    }
    if (u->mode == UPLINK_NETNS || u->mode == UPLINK_DEV) {
        if (!valid_cidr(u->ip) || !valid_addr(u->gw))
            return ERR("uplink: %s needs ip=A.B.C.D/N and gw=A.B.C.D",
                       u->mode == UPLINK_NETNS ? "netns" : "dev");
    }
    if (u->mode == UPLINK_NAT) {
        snprintf(u->ip, sizeof(u->ip), NAT_QUBE "/30");
        snprintf(u->gw, sizeof(u->gw), NAT_HOST);
    }
    if (u->dns[0] && !valid_addr(u->dns))
        return ERR("uplink: dns must be an IPv4 address");
    if (!u->dns[0] && u->mode != UPLINK_NONE)
        snprintf(u->dns, sizeof(u->dns), "%s", u->gw);
    return 0;
}

