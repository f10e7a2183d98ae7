/**
 * CPU and memory of the processes a benchmark runs (worker, Temporal dev server, stand-ins) and of the machine as a
 * whole, read from /proc. The machine is shared, so the busy time of everything else is reported beside ours: it
 * tells a slow figure caused by the collector from one caused by a neighbour.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const PAGE_BYTES = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096;

interface ProcessSample {
  cpuTicks: number;
  rssBytes: number;
}

interface MachineSample {
  busyTicks: number;
  iowaitTicks: number;
  totalTicks: number;
}

export interface ResourceUsage {
  seconds: number;
  cores: number;
  /** Busy fraction of the whole machine (1 = every core busy). */
  machineBusy: number;
  /** Fraction of the machine's time idle while waiting for disk: a store that syncs every write shows here. */
  machineIowait: number;
  /** Per labelled process: CPU as a fraction of one core, and resident memory at the end (peak of the samples). */
  processes: Record<string, { cpuOfOneCore: number; rssBytes: number; peakRssBytes: number }>;
  /** Busy core-fraction of the machine not spent by the labelled processes (other helpers, the OS). */
  othersOfOneCore: number;
}

/** Measures from `start()` to `finish()`; samples memory every second in between for the peak. */
export class ResourceWindow {
  private readonly startedAt = process.hrtime.bigint();
  private readonly startProcesses: Record<string, ProcessSample>;
  private readonly startMachine = machineSample();
  private readonly peakRss: Record<string, number> = {};
  private readonly sampler: NodeJS.Timeout;

  private constructor(private readonly pids: Record<string, number>) {
    this.startProcesses = this.sampleAll();
    this.sampler = setInterval(() => this.sampleAll(), 1_000);
  }

  static start(pids: Record<string, number>): ResourceWindow {
    return new ResourceWindow(pids);
  }

  finish(): ResourceUsage {
    clearInterval(this.sampler);
    const seconds = Number(process.hrtime.bigint() - this.startedAt) / 1e9;
    const endProcesses = this.sampleAll();
    const endMachine = machineSample();
    const cores = cpus().length;
    const processes: ResourceUsage['processes'] = {};
    let labelledTicks = 0;
    for (const [label, end] of Object.entries(endProcesses)) {
      const ticks = end.cpuTicks - (this.startProcesses[label]?.cpuTicks ?? end.cpuTicks);
      labelledTicks += ticks;
      processes[label] = {
        cpuOfOneCore: ticks / CLOCK_TICKS_PER_SECOND / seconds,
        rssBytes: end.rssBytes,
        peakRssBytes: this.peakRss[label] ?? end.rssBytes,
      };
    }
    const machineTicks = endMachine.totalTicks - this.startMachine.totalTicks;
    const machineBusyTicks = endMachine.busyTicks - this.startMachine.busyTicks;
    const machineBusy = machineTicks > 0 ? machineBusyTicks / machineTicks : Number.NaN;
    const machineIowait = machineTicks > 0 ? (endMachine.iowaitTicks - this.startMachine.iowaitTicks) / machineTicks : Number.NaN;
    const labelledOfOneCore = labelledTicks / CLOCK_TICKS_PER_SECOND / seconds;
    return { seconds, cores, machineBusy, machineIowait, processes, othersOfOneCore: Math.max(0, machineBusy * cores - labelledOfOneCore) };
  }

  private sampleAll(): Record<string, ProcessSample> {
    const samples: Record<string, ProcessSample> = {};
    for (const [label, pid] of Object.entries(this.pids)) {
      const sample = processSample(pid);
      samples[label] = sample;
      this.peakRss[label] = Math.max(this.peakRss[label] ?? 0, sample.rssBytes);
    }
    return samples;
  }
}

/** utime + stime (all threads) and RSS from /proc/<pid>/stat; the command name may hold spaces, so split after it. */
function processSample(pid: number): ProcessSample {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the name start at field 3 (state): utime is field 14, stime 15, rss 24.
    const field = (number: number) => Number(fields[number - 3]);
    return { cpuTicks: field(14) + field(15), rssBytes: field(24) * PAGE_BYTES };
  } catch {
    return { cpuTicks: 0, rssBytes: 0 };
  }
}

function machineSample(): MachineSample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, ...values] = line.trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values.map(Number) as number[];
  const busyTicks = user! + nice! + system! + irq! + softirq! + steal!;
  return { busyTicks, iowaitTicks: iowait!, totalTicks: busyTicks + idle! + iowait! };
}
