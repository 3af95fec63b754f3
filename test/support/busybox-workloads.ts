/**
 * The driver contract's workloads (src/drivers/driver-contract.ts) as argv for a
 * busybox rootfs (writeBusyboxRootfs in images.ts), shared by every real driver's
 * contract run.
 */
import type { DriverHarness } from '../../src/drivers/driver-contract.ts';

const LOOP = 'while true; do sleep 0.05; done';

export const busyboxWorkloads: Pick<DriverHarness, 'argv' | 'execArgv'> = {
  argv: (w) => {
    switch (w.kind) {
      case 'exit':
        return ['sh', '-c', `echo ${w.stdout}; echo ${w.stderr} >&2; exit ${w.code}`];
      case 'untilTerm':
        return ['sh', '-c', `trap "exit ${w.code}" TERM; echo ready; ${LOOP}`];
      case 'ignoreTerm':
        return ['sh', '-c', `trap "" TERM; echo ready; ${LOOP}`];
      case 'sleep':
        return ['sleep', '1000'];
      case 'memoryHog':
        return ['awk', 'BEGIN { s = "xxxxxxxx"; while (1) s = s s }'];
      case 'missingExecutable':
        return ['/no/such/binary'];
    }
  },
  execArgv: (text, code) => ['sh', '-c', `echo ${text}; exit ${code}`],
};
