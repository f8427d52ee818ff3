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

export const builtinSettings: MigrationSettings = {plan: builtinPlan, planSource: 'built-in'};

/** Validates --migration-plan and --alembic-dir (part of the config built from the command line). */
export function readMigrationSettings(options: {planFile?: unknown; alembicDir?: unknown}): MigrationSettings {
	const planFile = options.planFile === undefined ? undefined : String(options.planFile);
	const alembicDir = options.alembicDir === undefined ? undefined : String(options.alembicDir);
	const settings: MigrationSettings = planFile === undefined ? {...builtinSettings} : {plan: loadPlanFile(planFile), planSource: planFile};
	if (alembicDir !== undefined) {
		const dir = path.resolve(alembicDir);
		if (!fs.statSync(dir, {throwIfNoEntry: false})?.isDirectory()) throw new UsageError(`--alembic-dir ${alembicDir}: no such directory`);
		if (!fs.existsSync(path.join(dir, 'alembic.ini'))) throw new UsageError(`--alembic-dir ${alembicDir}: no alembic.ini there (give the backend directory alembic runs in)`);
		settings.alembicDir = dir;
	}
	return settings;
}
