import { readFileSync } from 'node:fs';

/** Resident set of a process now (VmRSS), in MB; 0 once it is gone. */
function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

/**
 * Samples the resident set of some processes every `everyMs`, so a peak can be placed in a phase
 * of the run (VmHWM alone says how high, not when).
 */
export class RssSampler {
  private readonly samples: { at: number; mb: Record<string, number> }[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pids: Record<string, number | undefined>,
    everyMs = 250,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }

  private sample(): void {
    const mb: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) if (pid) mb[name] = rssMb(pid);
    this.samples.push({ at: Date.now(), mb });
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  /** The highest sample of each process within each phase ([from, to) in epoch ms). */
  peaks(phases: Record<string, [number, number]>): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [phase, [from, to]] of Object.entries(phases)) {
      const peak: Record<string, number> = {};
      for (const s of this.samples)
        if (s.at >= from && s.at < to)
          for (const [name, mb] of Object.entries(s.mb)) peak[name] = Math.max(peak[name] ?? 0, mb);
      out[phase] = peak;
    }
    return out;
  }
}
