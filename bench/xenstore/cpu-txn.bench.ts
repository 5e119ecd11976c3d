/** Daemon CPU cost per operation (see ./cpu-cost.ts): txn. */
import { cpuSuite } from './cpu-cost.ts';

export default cpuSuite('txn');
