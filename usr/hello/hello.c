/*
 * hello.c — the program the process manager's tests and benchmark spawn.
 * It prints its pid, name and arguments back, one per line, and exits with
 * 0; with the single argument "-q" it prints nothing; "exit=N" makes it exit
 * with N; "getenv=KEY" prints that environment variable; with the single
 * argument "read" it reads a line with fgets and prints it back. It does
 * nothing to reach the terminal: plain stdio does (lib/os/stdio.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"

static int read_line(void)
{
    char line[128];
    printf("hello: type a line\n");
    if (fgets(line, sizeof line, stdin) == NULL) {
        printf("hello: read nothing\n");
        return 1;
    }
    printf("hello: read \"%.*s\"\n", (int)strcspn(line, "\n"), line);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "-q") == 0)
        return 0;
    if (argc == 2 && strcmp(argv[1], "read") == 0)
        return read_line();
    int code = 0;
    printf("hello: pid %u, %d argument%s\n", os_args()->pid, argc - 1, argc == 2 ? "" : "s");
    for (int i = 0; i < argc; i++) {
        printf("hello: argv[%d] = \"%s\"\n", i, argv[i]);
        if (strncmp(argv[i], "exit=", 5) == 0)
            code = atoi(argv[i] + 5);
        if (strncmp(argv[i], "getenv=", 7) == 0) {
            const char *v = getenv(argv[i] + 7);
            printf("hello: %s=%s\n", argv[i] + 7, v != NULL ? v : "(unset)");
        }
    }
    return code;
}
