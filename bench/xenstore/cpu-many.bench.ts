/** Daemon CPU cost per operation (see ./cpu-cost.ts): many. */
import { cpuSuite } from './cpu-cost.ts';

export default cpuSuite('many');
