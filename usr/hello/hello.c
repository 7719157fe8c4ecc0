/*
 * hello.c — the program the process manager's tests and benchmark spawn.
 * It prints its pid, name and arguments back, one per line, and exits with
 * 0; with the single argument "-q" it prints nothing; "exit=N" makes it exit
 * with N; "getenv=KEY" prints that environment variable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "-q") == 0)
        return 0;
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
