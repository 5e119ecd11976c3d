/**
 * Scheduler decisions per second: 64 vCPUs of 16 domains on 4 pCPUs under the credit and sEDF
 * schedulers, on deterministic virtual time. Half the vCPUs are CPU-bound, half I/O-like (run
 * 200 µs, block, woken by an event 2 ms later), so pCPUs reschedule every few hundred µs of
 * virtual time. One operation is one `do_schedule` call, including the wake-ups, ticks,
 * accounting and timer work around it. The `*-yield` cases isolate the decision itself: 64
 * CPU-bound vCPUs, and each operation is a SCHEDOP_yield of the vCPU running on the next pCPU
 * (one `do_schedule` over a 16-deep runqueue, no time passing). No peer: Xen's schedulers run
 * only inside Xen.
 */
import { SchedSimulation } from '@typevisor/hypervisor';
import { defineSuite } from '../harness.ts';

function workload(scheduler: string): SchedSimulation {
  const sim = new SchedSimulation({ nrCpus: 4, scheduler });
  for (let i = 0; i < 64; i++) {
    const domid = 1 + (i >> 2);
    const vcpuId = i & 3;
    if ((i & 1) === 0) sim.addCpuBound(domid, vcpuId);
    else sim.addIoBound(domid, vcpuId, { burstNs: 200_000, sleepNs: 2_000_000 });
  }
  // Warm up past the first accounting periods.
  sim.runFor(1e9);
  return sim;
}

function runDecisions(sim: SchedSimulation, iters: number): number {
  const target = sim.host.decisions + iters;
  while (sim.host.decisions < target) sim.runFor(1e6);
  return sim.host.decisions + sim.time.now() / 1e6;
}

function yieldHost(scheduler: string): SchedSimulation {
  const sim = new SchedSimulation({ nrCpus: 4, scheduler });
  for (let i = 0; i < 64; i++) sim.addCpuBound(1 + (i >> 2), i & 3);
  sim.runFor(1e9);
  return sim;
}

function runYields(sim: SchedSimulation, iters: number): number {
  const host = sim.host;
  let sum = 0;
  for (let i = 0; i < iters; i++) {
    const v = host.current(i & 3);
    if (v !== null) {
      host.yield(v.domid, v.vcpuId);
      sum += v.vcpuId;
    }
  }
  return sum + host.decisions;
}

const credit = workload('credit');
const sedf = workload('sedf');
const creditYield = yieldHost('credit');
const sedfYield = yieldHost('sedf');

export default defineSuite({
  name: 'hypervisor-sched/decisions',
  description:
    'Scheduling decisions per second, 64 vCPUs (32 CPU-bound, 32 I/O-like) of 16 domains on 4 pCPUs, virtual time; each includes its wake-ups, ticks, accounting and timers.',
  unit: 'decisions/s',
  cases: [
    { name: 'credit', run: (iters) => runDecisions(credit, iters) },
    { name: 'sedf', run: (iters) => runDecisions(sedf, iters) },
    { name: 'credit-yield', run: (iters) => runYields(creditYield, iters) },
    { name: 'sedf-yield', run: (iters) => runYields(sedfYield, iters) },
  ],
});
