#define _GNU_SOURCE
#include "cspawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// Runs in the forked child: async-signal-safe calls only. Reports a failure's errno through `report`
// (close-on-exec, so a successful exec closes it and the parent reads end-of-file).
static void start_child(const char *path, char *const argv[], char *const envp[], int input_fd,
                        int output_fd, pid_t parent, int report) {
    setpgid(0, 0);
#ifdef __linux__
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) goto failed;
    if (getppid() != parent) _exit(127);   // the parent ended before the request was in place
#else
    (void)parent;
#endif
    struct sigaction default_action;
    memset(&default_action, 0, sizeof default_action);
    default_action.sa_handler = SIG_DFL;
    for (int number = 1; number < NSIG; number++) sigaction(number, &default_action, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (dup2(input_fd, 0) < 0) goto failed;
    if (output_fd >= 0 && (dup2(output_fd, 1) < 0 || dup2(output_fd, 2) < 0)) goto failed;
#ifdef SYS_close_range
    // Descriptors this process left inheritable (a run folder's lock, a socket) stay with it; kernels
    // without close_range leave them open, as exec always does.
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
#endif
    execve(path, argv, envp);
failed:;
    int error = errno;
    ssize_t written;
    do written = write(report, &error, sizeof error); while (written < 0 && errno == EINTR);
    _exit(127);
}

pid_t cspawn_start(const char *path, char *const argv[], char *const envp[], int input_fd, int output_fd) {
    // With SIGCHLD ignored (a disposition inherited from whoever started this program) the kernel
    // reaps children itself and they could not be waited for.
    struct sigaction current;
    if (sigaction(SIGCHLD, NULL, &current) == 0 && current.sa_handler == SIG_IGN) signal(SIGCHLD, SIG_DFL);
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -errno;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) start_child(path, argv, envp, input_fd, output_fd, parent, report[1]);
    int fork_error = errno;
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        return -fork_error;
    }
    int error = 0;
    ssize_t got;
    do got = read(report[0], &error, sizeof error); while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == 0) return pid;
    int code, signal_number;
    cspawn_reap(pid, &code, &signal_number);
    return got == sizeof error ? -error : -ECHILD;
}

int cspawn_has_ended(pid_t pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int result;
    do result = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT); while (result < 0 && errno == EINTR);
    if (result < 0) return -errno;
    return info.si_pid != 0;
}

int cspawn_reap(pid_t pid, int *exit_code, int *signal_number) {
    int status;
    pid_t result;
    do result = waitpid(pid, &status, 0); while (result < 0 && errno == EINTR);
    if (result < 0) return -errno;
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    *signal_number = WIFSIGNALED(status) ? WTERMSIG(status) : -1;
    return 0;
}
