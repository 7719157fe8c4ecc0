/*
 * start.c — from the kernel's argument page to main(argc, argv), and from
 * main's return or exit() to the exit system call.
 *
 * argv[0] is the program's name; the other words are the command line split
 * at spaces. Also sets the thread pointer for picolibc's thread-local data
 * (errno), which lives in the program image for the first thread, and
 * finds the dispatcher frame (lmp_init).
 */
#include <stdlib.h>
#include <string.h>

#include "lmp.h"
#include "os.h"
#include "syscall.h"


int main(int argc, char **argv);
void os_start(const struct minnow_args *args);
void _exit(int code);
void _set_tls(void *tls);

extern char __tls_base[];

uint64_t os_start_cycles;
static const struct minnow_args *args_page;
static char words[ARGS_CMDLINE_MAX];
static char *argv[ARGS_MAX_WORDS + 1];

const struct minnow_args *os_args(void)
{
    return args_page;
}

static int split_words(char *s, char **out, int max)
{
    int n = 0;
    while (*s != '\0' && n < max) {
        while (*s == ' ')
            *s++ = '\0';
        if (*s == '\0')
            break;
        out[n++] = s;
        while (*s != '\0' && *s != ' ')
            s++;
    }
    return n;
}

extern char **environ;
static char env_strings[ARGS_ENV_MAX];
static char *envp[ARGS_ENV_VARS + 1];

/* The page's NUL-separated environment into picolibc's environ (getenv). */
static void split_env(const char *env)
{
    memcpy(env_strings, env, sizeof env_strings);
    env_strings[sizeof env_strings - 1] = '\0';
    int n = 0;
    const char *end = env_strings + sizeof env_strings;
    for (char *s = env_strings; s < end && *s != '\0' && n < ARGS_ENV_VARS; s += strlen(s) + 1)
        envp[n++] = s;
    envp[n] = NULL;
    environ = envp;
}

const char *os_getarg(const char *key, char *buf, unsigned buflen)
{
    size_t klen = strlen(key);
    const char *found = NULL;
    for (int i = 1; argv[i] != NULL; i++)
        if (strncmp(argv[i], key, klen) == 0 && argv[i][klen] == '=')
            found = argv[i] + klen + 1;
    if (found == NULL || strlen(found) >= buflen)
        return NULL;
    strcpy(buf, found);
    return buf;
}

void _exit(int code)
{
    sys_exit(code);
}

void os_start(const struct minnow_args *args)
{
    _set_tls(__tls_base);
    args_page = args;
    if (args->magic != ARGS_MAGIC) {
        static const char msg[] = "lib/os: bad argument page\n";
        sys_debug_print(msg, sizeof msg - 1);
        _exit(LIB_ERR_BAD_ARGS);
    }
    memcpy(words, args->cmdline, sizeof words);
    words[sizeof words - 1] = '\0';
    argv[0] = (char *)args->name;
    int argc = 1 + split_words(words, argv + 1, ARGS_MAX_WORDS);
    argv[argc] = NULL;
    split_env(args->env);
    lmp_init();
    exit(main(argc, argv));
}
