import fs from 'node:fs';
import path from 'node:path';
import {UsageError} from '../../errors.js';
import {builtinPlan, loadPlanFile, type MigrationPlan} from './plan.js';

export type MigrationSettings = {
	plan: MigrationPlan;
	/** 'built-in' or the --migration-plan file */
	planSource: string;
	/** --alembic-dir: run `alembic upgrade` there instead of the plan's own statements */
	alembicDir?: string;
};

const builtin: MigrationSettings = {plan: builtinPlan, planSource: 'built-in'};
let current: MigrationSettings = builtin;

/**
 * Validates --migration-plan and --alembic-dir once, while the command line
 * is read, so a bad file stops the program with one line before it connects;
 * the screen and the migrate command then read the result.
 */
export function configureMigration(options: {planFile?: unknown; alembicDir?: unknown}): MigrationSettings {
	const planFile = options.planFile === undefined ? undefined : String(options.planFile);
	const alembicDir = options.alembicDir === undefined ? undefined : String(options.alembicDir);
	const settings: MigrationSettings = planFile === undefined ? {...builtin} : {plan: loadPlanFile(planFile), planSource: planFile};
	if (alembicDir !== undefined) {
		const dir = path.resolve(alembicDir);
		if (!fs.statSync(dir, {throwIfNoEntry: false})?.isDirectory()) throw new UsageError(`--alembic-dir ${alembicDir}: no such directory`);
		if (!fs.existsSync(path.join(dir, 'alembic.ini'))) throw new UsageError(`--alembic-dir ${alembicDir}: no alembic.ini there (give the backend directory alembic runs in)`);
		settings.alembicDir = dir;
	}
	current = settings;
	return settings;
}

export function migrationSettings(): MigrationSettings {
	return current;
}
