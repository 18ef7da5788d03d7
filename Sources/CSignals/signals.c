// See CSignals.h. Everything the handler touches is async-signal-safe: a C11 lock-free atomic,
// write(2) and _exit(2).
#include "CSignals.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int pending_signal = 0;
static atomic_llong signal_nanoseconds = 0;

static long long monotonic_nanoseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);  // async-signal-safe
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static void write_text(const char *text) {
    size_t left = strlen(text);
    while (left > 0) {
        ssize_t n = write(2, text, left);
        if (n <= 0) return;
        text += n;
        left -= (size_t)n;
    }
}

static void on_signal(int signal) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&pending_signal, &expected, signal)) {
        atomic_store(&signal_nanoseconds, monotonic_nanoseconds());
        return;
    }
    // A stop was already pending: the user wants out now. Checkpoints are published by an
    // atomic rename, so the previous one stays intact; a half-written staging directory is
    // removed by the next save.
    const char *name = signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : signal == SIGUSR1 ? "SIGUSR1" : "signal";
    write_text("tessera: second ");
    write_text(name);
    write_text(" while stopping: exiting now without a checkpoint (the previous one is intact)\n");
    _exit(128 + signal);
}

int ts_stop_install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    const int signals[] = {SIGTERM, SIGINT, SIGUSR1};
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        if (sigaction(signals[i], &action, NULL) != 0) return -1;
    }
    return 0;
}

int ts_stop_signal(void) { return atomic_load(&pending_signal); }

double ts_stop_seconds_since_signal(void) {
    long long at = atomic_load(&signal_nanoseconds);
    return at == 0 ? -1 : (double)(monotonic_nanoseconds() - at) / 1e9;
}

void ts_stop_raise(int signal) {
    int expected = 0;
    atomic_compare_exchange_strong(&pending_signal, &expected, signal);
}
