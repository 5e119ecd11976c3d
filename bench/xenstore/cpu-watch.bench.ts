/** Daemon CPU cost per operation (see ./cpu-cost.ts): watch. */
import { cpuSuite } from './cpu-cost.ts';

export default cpuSuite('watch');
