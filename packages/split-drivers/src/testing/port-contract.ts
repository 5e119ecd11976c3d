import { SplitDriversError } from '../errors.ts';
import type { EventChannels, GrantIssuer, GrantMapper, PageAllocator } from '../ports.ts';

/** The frontend-side ports of one domain, as a contract check needs them. */
export interface FrontendPorts {
  /** The domain id. */
  readonly domid: number;
  /** Grant issuing. */
  readonly grants: GrantIssuer;
  /** Page allocation. */
  readonly pages: PageAllocator;
  /** Event channels. */
  readonly events: EventChannels;
}

/** The backend-side ports of one domain, as a contract check needs them. */
export interface BackendPorts {
  /** The domain id. */
  readonly domid: number;
  /** Grant mapping. */
  readonly mapper: GrantMapper;
  /** Event channels. */
  readonly events: EventChannels;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new SplitDriversError('PROTOCOL', `port contract: ${what}`);
}

/**
 * Checks that grant and event-channel port implementations behave as the drivers rely on
 * (a contract suite for `@typevisor/hypervisor` and other providers): granted pages are shared
 * memory both ways; read-only grants refuse writable maps; refs that do not exist or were
 * granted to another domain fail with a negative status; `endAccess` fails while mapped;
 * events raised on one end reach the other end's handler asynchronously and coalesce.
 * `bystander` is a third domain used for the wrong-grantee case. Throws on the first violation.
 */
export async function verifyPortContract(
  front: FrontendPorts,
  back: BackendPorts,
  bystander: BackendPorts,
): Promise<void> {
  // Grants: shared memory, both directions.
  const page = front.pages.allocPage();
  check(page.length >= 4096, 'allocPage returns at least 4096 bytes');
  const ref = front.grants.grantAccess(back.domid, page, false);
  const m = back.mapper.mapGrant(front.domid, ref, false);
  check(typeof m !== 'number', `writable map of a writable grant succeeds (got ${String(m)})`);
  if (typeof m === 'number') return;
  check(m.writable, 'the mapping reports writable');
  page[100] = 0x5a;
  check(m.page[100] === 0x5a, 'granter writes are visible through the mapping');
  m.page[200] = 0xa5;
  check(page[200] === 0xa5, 'mapping writes are visible to the granter');
  check(!front.grants.endAccess(ref), 'endAccess fails while the grant is mapped');
  back.mapper.unmapGrant(m);
  check(front.grants.endAccess(ref), 'endAccess succeeds once unmapped');
  check(
    typeof back.mapper.mapGrant(front.domid, ref, true) === 'number',
    'a revoked ref no longer maps',
  );

  const roPage = front.pages.allocPage();
  const roRef = front.grants.grantAccess(back.domid, roPage, true);
  const bad = back.mapper.mapGrant(front.domid, roRef, false);
  check(typeof bad === 'number' && bad < 0, 'a read-only grant refuses a writable map');
  const ro = back.mapper.mapGrant(front.domid, roRef, true);
  check(typeof ro !== 'number' && !ro.writable, 'a read-only grant maps read-only');
  if (typeof ro !== 'number') back.mapper.unmapGrant(ro);
  const other = bystander.mapper.mapGrant(front.domid, roRef, true);
  check(typeof other === 'number' && other < 0, 'a grant to one domain does not map in another');
  for (const bogus of [0xffff_fff0, 0x7fff_ffff]) {
    const r = back.mapper.mapGrant(front.domid, bogus, true);
    check(typeof r === 'number' && r < 0, `an unknown ref (${bogus}) fails with a negative status`);
  }
  front.grants.endAccess(roRef);

  // Event channels: both directions, asynchronous, coalesced.
  const fPort = front.events.allocUnbound(back.domid);
  check(fPort > 0, 'allocUnbound returns a port');
  check(bystander.events.bindInterdomain(front.domid, fPort) < 0, 'only the named remote may bind');
  const bPort = back.events.bindInterdomain(front.domid, fPort);
  check(bPort > 0, 'bindInterdomain returns a port');
  let atBack = 0;
  let atFront = 0;
  back.events.onEvent(bPort, () => atBack++);
  front.events.onEvent(fPort, () => atFront++);
  front.events.notify(fPort);
  front.events.notify(fPort);
  check(atBack === 0, 'delivery is asynchronous (not inside notify)');
  for (let i = 0; i < 20 && atBack === 0; i++) await Promise.resolve();
  check(atBack === 1, `two pending notifications coalesce into one delivery (got ${atBack})`);
  back.events.notify(bPort);
  for (let i = 0; i < 20 && atFront === 0; i++) await Promise.resolve();
  check(atFront === 1, 'events flow back to the frontend');
  back.events.close(bPort);
  front.events.close(fPort);
}
