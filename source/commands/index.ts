import type {Subcommand} from './types.js';

/** The headless commands, in the order --help lists them. */
export const subcommands: Subcommand[] = [];
