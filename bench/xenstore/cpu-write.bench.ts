/** Daemon CPU cost per operation (see ./cpu-cost.ts): write. */
import { cpuSuite } from './cpu-cost.ts';

export default cpuSuite('write');
