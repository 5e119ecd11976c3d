/** Daemon CPU cost per operation (see ./cpu-cost.ts): directory. */
import { cpuSuite } from './cpu-cost.ts';

export default cpuSuite('directory');
