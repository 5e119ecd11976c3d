/**
 * Scheduler decisions per second: 64 vCPUs of 16 domains on 4 pCPUs under the credit and sEDF
 * schedulers, on deterministic virtual time. Half the vCPUs are CPU-bound, half I/O-like (run
 * 200 µs, block, woken by an event 2 ms later), so pCPUs reschedule every few hundred µs of
 * virtual time. One operation is one `do_schedule` call, including the wake-ups, ticks,
 * accounting and timer work around it. No peer: Xen's schedulers run only inside Xen.
 */
import { SchedSimulation } from '../../packages/hypervisor/src/sched/index.ts';
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

const credit = workload('credit');
const sedf = workload('sedf');

export default defineSuite({
  name: 'hypervisor-sched/decisions',
  description:
    'Scheduling decisions per second, 64 vCPUs (32 CPU-bound, 32 I/O-like) of 16 domains on 4 pCPUs, virtual time; each includes its wake-ups, ticks, accounting and timers.',
  unit: 'decisions/s',
  cases: [
    { name: 'credit', run: (iters) => runDecisions(credit, iters) },
    { name: 'sedf', run: (iters) => runDecisions(sedf, iters) },
  ],
});
