import fs from 'node:fs';
import path from 'node:path';
import {UsageError} from '../errors.js';

export type ChecklistSettings = {
	/** --backend-dir: the FastAPI backend's checkout, read for its database configuration */
	backendDir?: string;
};

let current: ChecklistSettings = {};

/**
 * Validates --backend-dir while the command line is read, so a wrong path
 * stops the program with one line before it connects; the checklist screen
 * and `check` then read the result.
 */
export function configureChecklist(options: {backendDir?: unknown}): ChecklistSettings {
	const settings: ChecklistSettings = {};
	if (options.backendDir !== undefined) {
		const dir = path.resolve(String(options.backendDir));
		if (!fs.statSync(dir, {throwIfNoEntry: false})?.isDirectory()) throw new UsageError(`--backend-dir ${String(options.backendDir)}: no such directory`);
		settings.backendDir = dir;
	}
	current = settings;
	return settings;
}

export function checklistSettings(): ChecklistSettings {
	return current;
}
