import fs from 'node:fs';
import path from 'node:path';
import {builtinSettings, readMigrationSettings, type MigrationSettings} from './actions/migration/settings.js';
import {defaultOptions, type ChecklistOptions} from './checklist/items.js';
import {UsageError} from './errors.js';

/**
 * The settings the command line chose, built once while it is read (so a
 * wrong path stops the program with one line before it connects) and passed
 * down: to the console through its services and each poll's context, to a
 * command through its context. Nothing reads flags from a module variable.
 */
export type Config = {
	/** the plan the console runs and checks against (--migration-plan, --alembic-dir) */
	migration: MigrationSettings;
	/** what the checklist checks (--app-role, --runbook, --backend-dir), on screen and in `check` alike */
	checklist: ChecklistOptions;
};

export const defaultConfig: Config = {migration: builtinSettings, checklist: defaultOptions};

export function configFromFlags(flags: Record<string, unknown>): Config {
	const migration = readMigrationSettings({planFile: flags.migrationPlan, alembicDir: flags.alembicDir});
	const checklist: ChecklistOptions = {...defaultOptions, plan: migration.plan};
	if (flags.backendDir !== undefined) {
		const dir = path.resolve(String(flags.backendDir));
		if (!fs.statSync(dir, {throwIfNoEntry: false})?.isDirectory()) throw new UsageError(`--backend-dir ${String(flags.backendDir)}: no such directory`);
		checklist.backendDir = dir;
	}
	if (flags.appRole !== undefined) checklist.appRole = String(flags.appRole);
	if (flags.runbook !== undefined) checklist.runbookPath = String(flags.runbook);
	return {migration, checklist};
}
