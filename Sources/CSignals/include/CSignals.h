// Graceful stop on a signal (docs/preemption.md). The handler only records the signal in a
// lock-free atomic; the training loop reads it at every step boundary and the ranks agree on it
// with one allReduce. A second signal while a stop is pending ends the process at once with
// exit code 128 + signal (_exit, after one fixed line on standard error: both async-signal-safe).
// Only the `tessera` executable installs it; the libraries never see signals.
#ifndef TESSERA_CSIGNALS_H
#define TESSERA_CSIGNALS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Installs the handler for SIGTERM, SIGINT and SIGUSR1 (SA_RESTART, so interrupted system
/// calls resume). Returns 0, or -1 with errno set when sigaction fails.
int ts_stop_install(void);

/// The first signal received since install (SIGTERM, SIGINT or SIGUSR1), 0 when none.
int ts_stop_signal(void);

/// Seconds since the first signal was received (CLOCK_MONOTONIC), or -1 when none was.
double ts_stop_seconds_since_signal(void);

/// Records `signal` as if it had been received (tests and fault injection).
void ts_stop_raise(int signal);

#ifdef __cplusplus
}
#endif

#endif
