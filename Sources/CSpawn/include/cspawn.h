// A small C shim for Sources/Spawn/SpawnedProcess.swift: the steps a child must take itself between
// fork and exec (a process group, a parent-death signal, default signals, its descriptors), where only
// async-signal-safe calls are allowed and Swift code cannot run. Only SpawnedProcess calls these.
#pragma once
#include <sys/types.h>

/// Forks, and in the child: makes a process group of its own; on Linux asks for SIGKILL when the
/// forking thread ends (and exits at once if the parent already has); sets every signal to its
/// default action with none blocked; reads standard input from `input_fd` and writes standard output
/// and error to `output_fd` (leaves them as they are when it is negative); marks every other
/// descriptor close-on-exec; and executes `path` (not searched) with `argv` and `envp`, both
/// NULL-terminated and prepared by the caller, since the child may not allocate.
/// Returns the child's pid once it runs the program, or minus the errno of the step that failed
/// (fork in this process, or exec in the child, which is then reaped). Sets SIGCHLD back to its
/// default action if this process ignores it. fork runs the handlers libraries register with
/// pthread_atfork (OpenBLAS winds down its threads, to start them again on its next call), so call
/// it while no other thread is inside such a library.
pid_t cspawn_start(const char *path, char *const argv[], char *const envp[], int input_fd, int output_fd);

/// 1 once the child `pid` has ended, 0 while it runs, minus errno when it cannot be waited for.
/// It is not reaped: until `cspawn_reap`, its pid and process group id cannot be given to another
/// process, so signalling the group stays safe.
int cspawn_has_ended(pid_t pid);

/// Waits for the child `pid` to end and reaps it. Returns 0 with `*exit_code` set (and
/// `*signal_number` -1) when it exited, or `*signal_number` set (and `*exit_code` -1) when a signal
/// ended it; minus errno when it cannot be waited for.
int cspawn_reap(pid_t pid, int *exit_code, int *signal_number);
