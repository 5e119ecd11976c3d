import pkg from '../package.json' with { type: 'json' };

/** The version of `@typevisor/toolstack`, as printed by `typevisor --version`. */
export const TYPEVISOR_VERSION: string = pkg.version;
