/*
 * spinner.c — a program that never ends on its own: it counts in a loop
 * without system calls, so only the timer takes the core from it. The
 * process manager's tests suspend, resume and kill it.
 */
int main(void)
{
    volatile unsigned long n = 0;
    for (;;)
        n++;
}
