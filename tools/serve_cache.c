/*
 * serve_cache.c - what `adamas serve` keeps on disk (docs/snapshot.md,
 * "The server"): the names accepted for slot snapshots, and the optional
 * prefix cache of --cache-dir.
 *
 * The prefix cache holds one sequence snapshot per long prompt, named by a
 * hash of its tokens. An index of every file's tokens is read at start
 * (adm_snapshot_read_tokens validates each file; a damaged or foreign one
 * is skipped with a warning) and kept up to date as files are written and
 * deleted, so finding the file sharing the longest prefix with a prompt
 * reads no file. Recency survives a restart as the files' modification
 * times (a hit touches its file), which the least-recently-used eviction
 * orders by.
 *
 * Only the inference thread calls in here (the engine serializes): no lock.
 */
#include "serve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool srv_snapshot_name_ok(const char *name, char *why, size_t why_len) {
    const size_t n = name ? strlen(name) : 0;
    const char *bad = NULL;
    if (n == 0) bad = "is empty";
    else if (n > SRV_SNAPSHOT_NAME_MAX) bad = "is longer than 128 bytes";
    else if (name[0] == '.') bad = "starts with a dot";
    else if (strstr(name, "..")) bad = "contains \"..\"";
    for (size_t i = 0; !bad && i < n; i++) {
        const char c = name[i];
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        if (!ok) bad = c == '/' || c == '\\' ? "contains a path separator" : "has a character outside [A-Za-z0-9._-]";
    }
    if (bad && why) snprintf(why, why_len, "invalid filename: it %s (a plain name of letters, digits, '.', '_' and '-' "
                                           "is expected)", bad);
    return !bad;
}

typedef struct dc_entry {
    char *name;                 /* file name in the directory */
    int32_t *tokens;
    int n_tokens;
    uint64_t bytes;
    double last_use;            /* seconds since the epoch (the file's mtime at start) */
} dc_entry;

struct srv_dcache {
    char *dir;
    uint64_t max_bytes;
    int min_tokens;
    dc_entry *e;
    int n, cap;
    srv_dcache_stats st;
};

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Our files: "prefix-" + 16 hex digits + ".snap"; snapshots the user puts
 * in the directory (adamas prefill -o DIR/doc.snap) are indexed too: any
 * valid name ending in ".snap". */
static bool is_cache_name(const char *name) {
    const size_t n = strlen(name);
    return n > 5 && !strcmp(name + n - 5, ".snap") && srv_snapshot_name_ok(name, NULL, 0);
}

static char *path_of(const srv_dcache *c, const char *name) {
    const size_t n = strlen(c->dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", c->dir, name);
    return p;
}

static void entry_free(dc_entry *e) {
    free(e->name);
    free(e->tokens);
}

static void recount(srv_dcache *c) {
    uint64_t b = 0;
    for (int i = 0; i < c->n; i++) b += c->e[i].bytes;
    c->st.n_files = (uint64_t)c->n;
    c->st.bytes = b;
}

static void drop(srv_dcache *c, int i) {
    entry_free(&c->e[i]);
    c->e[i] = c->e[--c->n];
    recount(c);
}

/* Reads a file's tokens into a new entry; false (with a warning) when the
 * file is not a snapshot the loader accepts. */
static bool load_entry(srv_dcache *c, const char *name, dc_entry *out) {
    char *path = path_of(c, name);
    if (!path) return false;
    struct stat sb;
    adm_error err = {0};
    int n = 0;
    bool ok = false;
    memset(out, 0, sizeof(*out));
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) goto done;
    if (adm_snapshot_read_tokens(path, NULL, 0, &n, &err) != ADM_OK || n < 1) {
        fprintf(stderr, "adamas serve: warning: --cache-dir: skipping %s: %s\n", name,
                err.msg[0] ? err.msg : "no tokens");
        goto done;
    }
    out->tokens = malloc((size_t)n * sizeof(int32_t));
    out->name = strdup(name);
    if (!out->tokens || !out->name) goto done;
    int got = 0;
    if (adm_snapshot_read_tokens(path, out->tokens, n, &got, &err) != ADM_OK || got != n) {
        fprintf(stderr, "adamas serve: warning: --cache-dir: skipping %s: %s\n", name,
                err.msg[0] ? err.msg : "changed while read");
        goto done;
    }
    out->n_tokens = n;
    out->bytes = (uint64_t)sb.st_size;
    out->last_use = (double)sb.st_mtim.tv_sec + sb.st_mtim.tv_nsec * 1e-9;
    ok = true;
done:
    if (!ok) {
        entry_free(out);
        memset(out, 0, sizeof(*out));
    }
    free(path);
    return ok;
}

static bool reserve(srv_dcache *c) {
    if (c->n < c->cap) return true;
    const int cap = c->cap ? c->cap * 2 : 16;
    dc_entry *p = realloc(c->e, (size_t)cap * sizeof(*p));
    if (!p) return false;
    c->e = p;
    c->cap = cap;
    return true;
}

/* Deletes least-recently-used files until the total fits (keep: an entry
 * deleted only when it alone is over the bound). */
static void evict(srv_dcache *c, int keep) {
    while (c->st.bytes > c->max_bytes && c->n > 0) {
        int v = -1;
        for (int i = 0; i < c->n; i++)
            if (i != keep && (v < 0 || c->e[i].last_use < c->e[v].last_use)) v = i;
        if (v < 0) v = keep; /* only the kept one is left, and it is too big alone */
        char *path = path_of(c, c->e[v].name);
        if (path && unlink(path) != 0 && errno != ENOENT)
            fprintf(stderr, "adamas serve: warning: --cache-dir: cannot delete %s: %s\n", path, strerror(errno));
        free(path);
        c->st.evictions++;
        if (v == keep) keep = -1;
        else if (keep == c->n - 1) keep = v; /* drop moves the last entry into v */
        drop(c, v);
    }
}

srv_dcache *srv_dcache_open(const char *dir, uint64_t max_bytes, int min_tokens, char *errbuf, size_t errlen) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(errbuf, errlen, "--cache-dir %s: cannot create it: %s", dir, strerror(errno));
        return NULL;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(errbuf, errlen, "--cache-dir %s: %s", dir, strerror(errno));
        return NULL;
    }
    srv_dcache *c = calloc(1, sizeof(*c));
    if (!c || !(c->dir = strdup(dir))) {
        free(c);
        closedir(d);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    c->max_bytes = max_bytes;
    c->min_tokens = min_tokens;
    for (struct dirent *de; (de = readdir(d));) {
        if (!is_cache_name(de->d_name)) continue;
        dc_entry en;
        if (!load_entry(c, de->d_name, &en)) continue;
        if (!reserve(c)) {
            entry_free(&en);
            break;
        }
        c->e[c->n++] = en;
    }
    closedir(d);
    recount(c);
    evict(c, -1);
    return c;
}

void srv_dcache_free(srv_dcache *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) entry_free(&c->e[i]);
    free(c->e);
    free(c->dir);
    free(c);
}

srv_dcache_stats srv_dcache_get_stats(const srv_dcache *c) { return c->st; }
int srv_dcache_min_tokens(const srv_dcache *c) { return c->min_tokens; }

static int common_prefix(const int32_t *a, int na, const int32_t *b, int nb) {
    int k = 0;
    while (k < na && k < nb && a[k] == b[k]) k++;
    return k;
}

int srv_dcache_lookup(const srv_dcache *c, const int32_t *prompt, int n_prompt, int *entry) {
    int best = 0;
    *entry = -1;
    for (int i = 0; i < c->n; i++) {
        const int k = common_prefix(c->e[i].tokens, c->e[i].n_tokens, prompt, n_prompt);
        if (k > best || (k == best && k > 0 && c->e[i].last_use > c->e[*entry].last_use)) {
            best = k;
            *entry = i;
        }
    }
    /* The last prompt token is evaluated in any case (its logits are needed). */
    return best < n_prompt ? best : n_prompt - 1;
}

int srv_dcache_restore(srv_dcache *c, int entry, adm_seq *seq, const int32_t *prompt, int n_prompt) {
    if (entry < 0 || entry >= c->n) return 0;
    char *path = path_of(c, c->e[entry].name);
    if (!path) return 0;
    adm_error err = {0};
    int n = 0;
    if (adm_seq_restore(seq, path, prompt, n_prompt, NULL, &n, &err) != ADM_OK) {
        /* Refused (damaged since, another model's, over the memory budget):
         * forget it here; the file stays for whoever made it. */
        fprintf(stderr, "adamas serve: warning: --cache-dir: not using %s: %s\n", c->e[entry].name, err.msg);
        c->st.failures++;
        drop(c, entry);
        free(path);
        return 0;
    }
    c->e[entry].last_use = wall_now();
    utimensat(AT_FDCWD, path, NULL, 0); /* recency for the next start; a failure only costs ordering */
    free(path);
    c->st.hits++;
    c->st.restored_tokens += (uint64_t)n;
    return n;
}

static uint64_t tokens_hash(const int32_t *t, int n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the ids' bytes */
    for (int i = 0; i < n; i++)
        for (int b = 0; b < 4; b++) {
            h ^= (uint64_t)(((uint32_t)t[i] >> (8 * b)) & 0xff);
            h *= 1099511628211ull;
        }
    return h;
}

bool srv_dcache_wants(const srv_dcache *c, const int32_t *tokens, int n) {
    if (n < c->min_tokens) return false;
    /* Worth a file only when it adds min_tokens to what one already holds:
     * a document asked many short questions is stored once. */
    int best = 0;
    for (int i = 0; i < c->n; i++) {
        const int k = common_prefix(c->e[i].tokens, c->e[i].n_tokens, tokens, n);
        if (k > best) best = k;
    }
    return n - best >= c->min_tokens;
}

void srv_dcache_save(srv_dcache *c, const adm_seq *seq) {
    const int n = adm_seq_n_past(seq);
    const int32_t *toks = adm_seq_tokens(seq);
    if (!srv_dcache_wants(c, toks, n)) return;
    char name[48];
    snprintf(name, sizeof(name), "prefix-%016llx.snap", (unsigned long long)tokens_hash(toks, n));
    char *path = path_of(c, name);
    dc_entry en = {.name = strdup(name), .tokens = malloc((size_t)n * sizeof(int32_t)), .n_tokens = n};
    if (!path || !en.name || !en.tokens || !reserve(c)) {
        free(path);
        entry_free(&en);
        return;
    }
    memcpy(en.tokens, toks, (size_t)n * sizeof(int32_t));
    adm_error err = {0};
    struct stat sb;
    if (adm_seq_save(seq, path, NULL, &err) != ADM_OK || stat(path, &sb) != 0) {
        fprintf(stderr, "adamas serve: warning: --cache-dir: prompt not saved: %s\n",
                err.msg[0] ? err.msg : strerror(errno));
        c->st.failures++;
        free(path);
        entry_free(&en);
        return;
    }
    free(path);
    en.bytes = (uint64_t)sb.st_size;
    en.last_use = wall_now();
    /* A file of the same name (same tokens, or a hash collision) was replaced. */
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->e[i].name, name)) {
            drop(c, i);
            break;
        }
    c->e[c->n++] = en;
    recount(c);
    c->st.saves++;
    c->st.saved_tokens += (uint64_t)n;
    if (c->st.bytes > c->max_bytes && en.bytes > c->max_bytes)
        fprintf(stderr, "adamas serve: warning: --cache-dir: a %d-token prompt takes %.1f MiB, more than "
                        "--cache-max-mib; it is not kept\n", n, (double)en.bytes / 1048576.0);
    evict(c, c->n - 1);
}
