/*
 * cmd_tokenize.c - `adamas tokenize -m MODEL (-p TEXT | -f FILE)`: prints the
 * token ids the model's vocabulary turns a text into, space-separated on one
 * line, or one "id<TAB>piece" line per token with --pieces. Loads only the
 * vocabulary, so vocab-only GGUF files work too.
 */
#include "adamas.h"
#include "args.h"
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: adamas tokenize -m MODEL.gguf (-p TEXT | -f FILE) [--no-bos] [--special] [--pieces]\n"
            "Prints the token ids of a text, space-separated on one line.\n"
            "  -m, --model FILE   GGUF model or vocab-only file\n"
            "  -p, --prompt TEXT  the text to tokenize\n"
            "  -f, --file FILE    tokenize the file's bytes exactly as they are (- for standard input)\n"
            "  -e, --escape       process escapes (\\n, \\t, \\\\, \\\", \\xNN, ...) in -p's text\n"
            "  --no-bos           add no BOS/EOS (default: as the vocabulary says)\n"
            "  --special          recognize special-token text such as <|im_start|>\n"
            "  --pieces           print \"id<TAB>piece\" per token (the text each token stands for,\n"
            "                     with \\n, \\t, \\\\, \\xNN escapes for what is not printable)\n");
}

/* Length of the well-formed UTF-8 character at s (n bytes left), or 0. */
static int utf8_char(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    int len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!len || (size_t)len > n) return 0;
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return len;
}

static void print_escaped(const char *p, size_t n) {
    const unsigned char *s = (const unsigned char *)p;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        int len = utf8_char(s + i, n - i);
        if (c == '\\') fputs("\\\\", stdout);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (len == 1 && c >= 0x20 && c < 0x7F) putchar(c);
        /* C1 controls and line/paragraph separators would break the line */
        else if (len == 2 && c == 0xC2 && s[i + 1] < 0xA0) printf("\\u%04x", s[i + 1]);
        else if (len == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9))
            printf("\\u%04x", 0x2000 + (s[i + 2] - 0x80));
        else if (len > 1) fwrite(s + i, 1, (size_t)len, stdout);
        else printf("\\x%02x", c);
        i += len > 0 ? (size_t)len : 1;
    }
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *file = NULL;
    char *prompt = NULL;
    bool no_bos = false, special = false, pieces = false, escape = false;
    for (int i = 1; i < argc; i++) {
        args_split_eq(&argc, argv, i);
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model = args_value("tokenize", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!args_value("tokenize", argc, argv, &i)) return 2;
            prompt = argv[i];
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!(file = args_value("tokenize", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-e") || !strcmp(a, "--escape")) {
            escape = true;
        } else if (!strcmp(a, "--no-bos")) {
            no_bos = true;
        } else if (!strcmp(a, "--special")) {
            special = true;
        } else if (!strcmp(a, "--pieces")) {
            pieces = true;
        } else {
            return args_unknown("tokenize", a);
        }
    }
    if (!model || (!prompt && !file) || (prompt && file)) {
        args_error("tokenize", "%s", !model ? "no model given (-m FILE.gguf)" : "give exactly one of -p TEXT and -f FILE");
        return 2;
    }

    size_t len = 0;
    char *owned = NULL;
    if (file) {
        if (!(owned = args_read_file("tokenize", file, &len))) return 1;
    } else {
        len = escape ? args_unescape(prompt) : strlen(prompt);
    }
    const char *text = file ? owned : prompt;

    adm_error err;
    adm_vocab *vocab;
    if (adm_vocab_load(model, &vocab, &err) != ADM_OK) {
        args_error("tokenize", "%s", err.msg);
        free(owned);
        return 1;
    }
    unsigned flags = (no_bos ? 0u : (unsigned)ADM_TOKENIZE_ADD_SPECIAL) |
                     (special ? (unsigned)ADM_TOKENIZE_PARSE_SPECIAL : 0u);
    int rc = 1;
    int64_t cap = (int64_t)len + 16, n = 0;
    int32_t *ids = malloc((size_t)cap * sizeof(int32_t));
    char *piece = NULL;
    if (!ids || (n = adm_tokenize(vocab, text, (int64_t)len, ids, cap, flags)) < 0) goto oom;
    if (n > cap) { /* more tokens than bytes: only with odd vocabularies */
        free(ids);
        cap = n;
        ids = malloc((size_t)cap * sizeof(int32_t));
        if (!ids || adm_tokenize(vocab, text, (int64_t)len, ids, cap, flags) != n) goto oom;
    }
    if (!pieces) {
        for (int64_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
    } else {
        int size = 256;
        if (!(piece = malloc((size_t)size))) goto oom;
        for (int64_t i = 0; i < n; i++) {
            int k = adm_token_to_bytes(vocab, ids[i], piece, size, true);
            if (k > size) {
                free(piece);
                size = k;
                if (!(piece = malloc((size_t)size))) goto oom;
                k = adm_token_to_bytes(vocab, ids[i], piece, size, true);
            }
            printf("%d\t", ids[i]);
            print_escaped(piece, (size_t)(k > 0 ? k : 0));
            putchar('\n');
        }
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
    goto done;
oom:
    args_error("tokenize", "out of memory");
done:
    free(piece);
    free(ids);
    free(owned);
    adm_vocab_free(vocab);
    return rc;
}
