/**
 * Tiny static C programs the hardening tests put into images: each tries one
 * privileged thing and prints what happened (`name=result errno=N`), so the test
 * reads the outcome from the container's log. Built with the host's gcc at test time.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SOURCES: Record<string, string> = {
  // Reports its real/effective uid: a setuid-root copy must stay unprivileged under no_new_privileges.
  'probe-setuid': `
#include <stdio.h>
#include <unistd.h>
#include <errno.h>
int main(void) {
  int r = setuid(0);
  printf("setuid-probe ruid=%d euid=%d setuid0=%d errno=%d\\n", getuid(), geteuid(), r, r ? errno : 0);
  return 0;
}`,
  // Attaches to its own child with ptrace(2): allowed only when the seccomp profile opens ptrace (SYS_PTRACE added).
  'probe-ptrace': `
#include <stdio.h>
#include <unistd.h>
#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
int main(void) {
  pid_t c = fork();
  if (c == 0) { for (;;) pause(); }
  long r = ptrace(PTRACE_ATTACH, c, 0, 0);
  int e = r ? errno : 0;
  if (r == 0) { waitpid(c, 0, 0); ptrace(PTRACE_DETACH, c, 0, 0); }
  kill(c, SIGKILL);
  printf("ptrace-probe attach=%ld errno=%d\\n", r, e);
  return 0;
}`,
  // Opens a raw ICMP socket (what ping needs): refused without NET_RAW.
  'probe-rawsock': `
#include <stdio.h>
#include <errno.h>
#include <sys/socket.h>
#include <netinet/in.h>
int main(void) {
  int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  printf("rawsock-probe fd=%d errno=%d\\n", s, s < 0 ? errno : 0);
  return 0;
}`,
  // Creates a block device node for the host's first disk: refused in a user namespace.
  'probe-mknod': `
#include <stdio.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
int main(void) {
  int r = mknod("/tmp/sda", S_IFBLK | 0600, makedev(8, 0));
  printf("mknod-probe r=%d errno=%d\\n", r, r ? errno : 0);
  return 0;
}`,
  // Asks the kernel it runs on for a key (made visible to every user), a BPF map and a perf event, and
  // reports each answer: under gVisor the Sentry answers; the host's /proc/keys must never show the key.
  'probe-kernel': `
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <stdlib.h>
int main(int argc, char **argv) {
  const char *desc = argc > 1 ? argv[1] : "skiff-probe";
  long k = syscall(SYS_add_key, "user", desc, "x", 1, -2 /* KEY_SPEC_PROCESS_KEYRING */);
  int ke = k < 0 ? errno : 0;
  if (k > 0) syscall(SYS_keyctl, 5 /* KEYCTL_SETPERM */, k, 0x3f3f3f3f);
  union { unsigned int map_type; char pad[128]; } attr;
  memset(&attr, 0, sizeof attr);
  attr.map_type = 2; /* BPF_MAP_TYPE_ARRAY, incomplete on purpose */
  long b = syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, &attr, sizeof attr);
  int be = b < 0 ? errno : 0;
  struct perf_event_attr pe;
  memset(&pe, 0, sizeof pe);
  pe.type = PERF_TYPE_SOFTWARE; pe.size = sizeof pe; pe.config = PERF_COUNT_SW_CPU_CLOCK;
  long p = syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0);
  int pe_errno = p < 0 ? errno : 0;
  printf("kernel-probe add_key=%ld errno=%d bpf=%ld errno=%d perf=%ld errno=%d\\n", k, ke, b, be, p, pe_errno);
  fflush(stdout);
  if (argc > 2) sleep(atoi(argv[2]));
  return 0;
}`,
  // Times N cheap syscalls (getppid) and prints the mean cost: what a syscall-heavy program pays per call.
  'probe-syscalls': `
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) syscall(SYS_getppid);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
  printf("syscall-probe n=%ld ns_per_call=%.1f\\n", n, ns / n);
  return 0;
}`,
};

export type ProbeName = keyof typeof SOURCES;

/** Compiles every probe statically; returns name → binary bytes. */
export function buildProbes(): Record<string, Buffer> {
  return compileStatic(SOURCES);
}

/** Compiles C programs (name → source) statically with the host's gcc; returns name → binary bytes. */
export function compileStatic(sources: Record<string, string>): Record<string, Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-probes-'));
  try {
    const out: Record<string, Buffer> = {};
    for (const [name, src] of Object.entries(sources)) {
      const c = join(dir, `${name}.c`);
      writeFileSync(c, src);
      execFileSync('gcc', ['-static', '-O1', '-o', join(dir, name), c], { stdio: ['ignore', 'ignore', 'pipe'] });
      out[name] = readFileSync(join(dir, name));
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
