/**
 * Embedding xenstore in your own VMM: an in-process store, a watch that sees a backend's
 * change, and a transaction that writes a device's keys atomically — the way a toolstack
 * publishes a new virtual disk for a guest.
 *
 * Run: pnpm tsx --conditions=@typevisor/source examples/xenstore-embedded.ts
 */
import { inProcessTransport, Xenstore, XenstoreClient } from '@typevisor/xenstore';

const store = new Xenstore();
const toolstack = new XenstoreClient(inProcessTransport(store, 0));

// Watch the frontend directory of domain 1's first disk, as a backend would.
const watch = await toolstack.watch('/local/domain/1/device/vbd/51712');
const initial = await watch.next(); // xenstored fires every new watch once
console.log(`watch registered, initial event for ${initial.value?.path}`);

// Publish the frontend keys in one transaction (retried automatically on EAGAIN).
await toolstack.transaction(async (tx) => {
  await tx.write('/local/domain/1/device/vbd/51712/backend', '/local/domain/0/backend/vbd/1/51712');
  await tx.write('/local/domain/1/device/vbd/51712/backend-id', '0');
  await tx.write('/local/domain/1/device/vbd/51712/state', '1');
});
const event = await watch.next();
console.log(`watch fired for ${event.value?.path}`);
const keys = await toolstack.directory('/local/domain/1/device/vbd/51712');
console.log(`device keys: ${keys.sort().join(', ')}`);
console.log(`state = ${await toolstack.readString('/local/domain/1/device/vbd/51712/state')}`);
await watch.close();
toolstack.close();
