/* /etc/passwd and /etc/group parsing without NSS.  The files belong to the
 * qube (root inside it may edit them), which is fine: they only decide
 * which in-qube identity a dom0-requested command runs as. */
#include "guest/passwd.h"

#include "lib/atomicfile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASSWD_FILE_MAX (4u << 20)

/* Splits LINE at ':' into at most MAX fields; returns the count. */
static int split_fields(char *line, char **f, int max)
{
    int n = 0;

    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == ':') {
            *p = 0;
            f[n++] = p + 1;
        }
    return n;
}

static int parse_id(const char *s, unsigned long *out)
{
    char *end;

    if (!*s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    *out = strtoul(s, &end, 10);
    if (errno || *end || *out > 0xfffffffeUL)
        return -1;
    return 0;
}

static int copy_field(char *dst, size_t len, const char *src, const char *dflt)
{
    if (!*src)
        src = dflt;
    if (strlen(src) >= len)
        return -1;
    strcpy(dst, src);
    return 0;
}

/* One passwd line: name:pw:uid:gid:gecos:home:shell. */
static int passwd_line(char *line, const char *user, struct passwd_entry *o)
{
    char *f[7];
    unsigned long uid, gid;

    if (split_fields(line, f, 7) != 7 || strcmp(f[0], user))
        return -1;
    if (parse_id(f[2], &uid) < 0 || parse_id(f[3], &gid) < 0)
        return -1;
    if (copy_field(o->home, sizeof(o->home), f[5], "/") < 0 ||
        copy_field(o->shell, sizeof(o->shell), f[6], "/bin/sh") < 0)
        return -1;
    snprintf(o->name, sizeof(o->name), "%s", user);
    o->uid = (uid_t)uid;
    o->gid = (gid_t)gid;
    o->groups[0] = o->gid;
    o->ngroups = 1;
    return 0;
}

static bool member_of(char *members, const char *user)
{
    for (char *save = NULL, *m = strtok_r(members, ",", &save); m;
         m = strtok_r(NULL, ",", &save))
        if (!strcmp(m, user))
            return true;
    return false;
}

/* One group line: name:pw:gid:user,user. */
static void group_line(char *line, struct passwd_entry *o)
{
    char *f[4];
    unsigned long gid;

    if (split_fields(line, f, 4) != 4 || parse_id(f[2], &gid) < 0)
        return;
    if (!member_of(f[3], o->name) || (gid_t)gid == o->gid)
        return;
    if (o->ngroups < PASSWD_MAX_GROUPS)
        o->groups[o->ngroups++] = (gid_t)gid;
}

static char *read_etc(const char *root, const char *name)
{
    char path[PASSWD_MAX_PATH + 32];
    size_t len;

    if (snprintf(path, sizeof(path), "%s/etc/%s", root, name) >=
        (int)sizeof(path))
        return NULL;
    return read_file_limited(path, PASSWD_FILE_MAX, &len);
}

int passwd_lookup(const char *root, const char *user,
                  struct passwd_entry *out)
{
    char *text, *save = NULL;
    int found = -1;

    memset(out, 0, sizeof(*out));
    if (!(text = read_etc(root, "passwd")))
        return -1;
    for (char *l = strtok_r(text, "\n", &save); l && found < 0;
         l = strtok_r(NULL, "\n", &save))
        found = passwd_line(l, user, out);
    free(text);
    if (found < 0)
        return errno = ENOENT, -1;
    if ((text = read_etc(root, "group"))) {
        save = NULL;
        for (char *l = strtok_r(text, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save))
            group_line(l, out);
        free(text);
    }
    return 0;
}
