import { describe, expect, it } from 'vitest';
import { MemoryFabric, verifyPortContract } from '../src/testing/index.ts';

describe('port contract', () => {
  it('holds for the in-memory fabric', async () => {
    const f = new MemoryFabric();
    await verifyPortContract(f.domain(1), f.domain(0), f.domain(2));
  });

  it('catches a mapper that ignores read-only grants', async () => {
    const f = new MemoryFabric();
    const back = f.domain(0);
    const lax = {
      domid: 0,
      events: back.events,
      mapper: {
        mapGrant: (d: number, r: number) => back.mapper.mapGrant(d, r, true),
        unmapGrant: back.mapper.unmapGrant,
      },
    };
    await expect(verifyPortContract(f.domain(1), lax, f.domain(2))).rejects.toThrow(/writable/);
  });
});
