import {checkCommand} from './check.js';
import {backupCommand, restoreCommand, restoreTestCommand} from './backup.js';
import {killCommand} from './kill.js';
import {migrateCommand} from './migrate.js';
import {watchCommand} from './watch.js';
import type {Subcommand} from './types.js';

/** The headless commands, in the order --help lists them. */
export const subcommands: Subcommand[] = [checkCommand, backupCommand, restoreTestCommand, restoreCommand, killCommand, migrateCommand, watchCommand];
