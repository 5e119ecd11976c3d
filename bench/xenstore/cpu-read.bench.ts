/** Daemon CPU cost per operation (see ./cpu-cost.ts): read. */
import { cpuSuite } from './cpu-cost.ts';

export default cpuSuite('read');
