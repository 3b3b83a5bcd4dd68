/* standalone.c - a main for the fuzz targets without libFuzzer: it runs
 * LLVMFuzzerTestOneInput on every file named, and on every file of every
 * directory named (in name order, dotfiles skipped), or on stdin when no
 * argument is given.  The unit suite replays the corpus and the regression
 * inputs with it (fuzz_replay_*), and AFL++ builds the same targets with it
 * (docs/testing.md, "Fuzzing"). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define INPUT_MAX (1 << 20) /* libFuzzer's -max_len is far below this */

static int run_stream(FILE *f, const char *name)
{
    uint8_t *buf = malloc(INPUT_MAX);
    if (!buf) {
        fprintf(stderr, "standalone: out of memory\n");
        return -1;
    }
    size_t n = fread(buf, 1, INPUT_MAX, f);
    if (ferror(f)) {
        fprintf(stderr, "standalone: cannot read %s\n", name);
        free(buf);
        return -1;
    }
    /* A copy of the exact size, so ASan catches a read one past the end. */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "standalone: cannot open %s\n", path);
        return -1;
    }
    int r = run_stream(f, path);
    fclose(f);
    return r;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Runs a file or every regular file of a directory; returns inputs run, or
 * -1 on an error. */
static long run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "standalone: no such file or directory: %s\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path) < 0 ? -1 : 1;
    struct dirent **names;
    int n = scandir(path, &names, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "standalone: cannot list %s\n", path);
        return -1;
    }
    long count = 0;
    for (int i = 0; i < n; i++) {
        char full[4096];
        int len = snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
        struct stat fst;
        if (names[i]->d_name[0] != '.' && len > 0 && (size_t)len < sizeof(full) &&
            stat(full, &fst) == 0 && S_ISREG(fst.st_mode)) {
            if (run_file(full) < 0)
                count = -1;
            else if (count >= 0)
                count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc < 2) {
#ifdef __AFL_LOOP
        /* AFL++'s persistent mode (afl-clang-fast defines __AFL_LOOP, a GNU
         * statement expression): many inputs per process, each on stdin,
         * which afl-fuzz rewinds; read(2), since stdio would keep its EOF. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wgnu-statement-expression"
        static uint8_t buf[INPUT_MAX];
        while (__AFL_LOOP(10000)) {
            ssize_t n = read(0, buf, sizeof(buf));
            if (n < 0)
                return 1;
            LLVMFuzzerTestOneInput(buf, (size_t)n);
        }
#pragma clang diagnostic pop
        return 0;
#else
        return run_stream(stdin, "stdin") < 0 ? 1 : 0;
#endif
    }
    long total = 0;
    int status = 0;
    for (int i = 1; i < argc; i++) {
        long n = run_path(argv[i]);
        if (n < 0)
            status = 1;
        else
            total += n;
    }
    printf("%s: %ld inputs run\n", argv[0], total);
    return status;
}
