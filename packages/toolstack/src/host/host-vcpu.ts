/**
 * One vCPU of a guest on the {@link Host}: its CPU model, its PV vCPU, whether it is blocked in
 * SCHEDOP_block, and where and how long it ran (per physical CPU), for `vcpu-list` and tests.
 * @module
 */
import type { Pv32Vcpu, PvVcpu } from '@typevisor/hypervisor';
import type { X86Cpu } from '@typevisor/x86-cpu';

/** A guest vCPU on the host. */
export class HostVcpu {
  /** The vCPU's ID in its domain. */
  readonly id: number;
  /** Its CPU model. */
  readonly cpu: X86Cpu;
  /** The PV vCPU (64-bit or 32-bit PAE). */
  readonly vcpu: PvVcpu | Pv32Vcpu;
  /** Whether it is blocked in SCHEDOP_block waiting for an event. */
  blocked: boolean;
  /** Instructions it has executed. */
  instructions: number;
  /** The physical CPU it last ran on, or -1 if it never ran. */
  lastPcpu: number;
  /** Instructions executed on each physical CPU (index = pCPU). */
  readonly ranOn: number[];
  /** Whether it has ever been up (its periodic timer starts the first time). */
  everUp: boolean;

  /** A vCPU that has not run yet. */
  constructor(id: number, cpu: X86Cpu, vcpu: PvVcpu | Pv32Vcpu) {
    this.id = id;
    this.cpu = cpu;
    this.vcpu = vcpu;
    this.blocked = false;
    this.instructions = 0;
    this.lastPcpu = -1;
    this.ranOn = [];
    this.everUp = id === 0;
  }

  /** Counts `n` instructions run on physical CPU `pcpu`. */
  ran(pcpu: number, n: number): void {
    this.instructions += n;
    this.lastPcpu = pcpu;
    while (this.ranOn.length <= pcpu) this.ranOn.push(0);
    this.ranOn[pcpu] = (this.ranOn[pcpu] ?? 0) + n;
  }
}

/**
 * Parses an xl CPU list (`all`, `0-3`, `1,3`, `0-3,^2`) against `nrCpus` physical CPUs into a
 * sorted list, or null for a malformed one or a CPU that does not exist.
 */
export function hostCpuList(text: string, nrCpus: number): number[] | null {
  const t = text.trim();
  if (t === 'all') return Array.from({ length: nrCpus }, (_, i) => i);
  const parts = t.split(',');
  // A list of exclusions only ("^2") leaves those out of every CPU.
  const set = new Set<number>(
    parts.every((p) => p.trim().startsWith('^')) ? Array.from({ length: nrCpus }, (_, i) => i) : [],
  );
  for (const raw of parts) {
    const part = raw.trim();
    const neg = part.startsWith('^');
    const m = /^(\d+)(?:-(\d+))?$/.exec(neg ? part.slice(1) : part);
    if (m === null) return null;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi >= nrCpus) return null;
    for (let c = lo; c <= hi; c++) {
      if (neg) set.delete(c);
      else set.add(c);
    }
  }
  const out = [...set].sort((a, b) => a - b);
  return out.length === 0 ? null : out;
}

/** xl's text for a CPU list: `all` when it covers every CPU, else ranges (`0-1,3`). */
export function formatCpuList(cpus: readonly number[], nrCpus: number): string {
  if (cpus.length === nrCpus) return 'all';
  const parts: string[] = [];
  for (let i = 0; i < cpus.length; ) {
    let j = i;
    while (j + 1 < cpus.length && (cpus[j + 1] as number) === (cpus[j] as number) + 1) j++;
    parts.push(i === j ? String(cpus[i]) : `${cpus[i]}-${cpus[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
