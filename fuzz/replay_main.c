/*
 * replay_main.c - replays fuzz corpora without libFuzzer, so `make test`
 * re-checks every input that once found a bug: each argument is a file
 * fed to LLVMFuzzerTestOneInput.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            fprintf(stderr, "%s: cannot open\n", argv[i]);
            return 1;
        }
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
        size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
        fclose(f);
        if (!buf || got != (size_t)n) return 1;
        LLVMFuzzerTestOneInput(buf, got);
        free(buf);
    }
    printf("%d inputs replayed\n", argc - 1);
    return 0;
}
