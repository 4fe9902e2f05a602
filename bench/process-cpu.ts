import { readFileSync } from 'node:fs';

/** CPU ms a process and its waited-for children used so far (Linux /proc; 100 clock ticks a second). */
export function cpuMsOf(pid: number | undefined): number {
  // Fields after the command name: utime, stime, cutime, cstime are the 12th to 15th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return fields.slice(11, 15).reduce((sum, ticks) => sum + Number(ticks), 0) * 10;
}
