import {checkCommand} from './check.js';
import {backupCommand, restoreCommand, restoreTestCommand} from './backup.js';
import {killCommand} from './kill.js';
import {migrateCommand} from './migrate.js';
import {UsageError} from '../errors.js';
import {watchCommand} from './watch.js';
import {readOnlyRefusal} from '../read-only.js';
import type {Subcommand, SubcommandContext} from './types.js';

/** The headless commands, in the order --help lists them. */
export const subcommands: Subcommand[] = [checkCommand, backupCommand, restoreTestCommand, restoreCommand, killCommand, migrateCommand, watchCommand];

/** Every headless command runs through here: --read-only is refused before anything connects. */
export function runSubcommand(sub: Subcommand, ctx: SubcommandContext): Promise<number> {
	const refusal = readOnlyRefusal(ctx.global.readOnly, sub.readOnlyRefusal(ctx.flags));
	if (refusal) throw new UsageError(refusal);
	return sub.run(ctx);
}
