/**
 * `@typevisor/split-drivers/testing`: real in-memory implementations of the ports (xenstore,
 * grant tables, event channels, pages), so frontends can be run against backends in one process.
 * @module
 */
export { type FabricDomain, MemoryFabric } from './memory-fabric.ts';
export { MemoryXenstore } from './memory-xenstore.ts';
export { type BackendPorts, type FrontendPorts, verifyPortContract } from './port-contract.ts';
