import {builtinPlan, type MigrationPlan} from '../actions/migration/plan.js';
import {appRole} from '../intowork.js';
import {appQueries} from '../db/app-queries.js';
import {commands, screenIds} from '../keymap.js';

export type ItemId = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

/** signed-off: a person vouched for an item the console cannot verify (or chose not to run). */
export type Verdict = 'pass' | 'fail' | 'unknown' | 'signed-off';

export type Action = {
	/** the screen whose key fixes the item; shown only when that screen exists in this build */
	screen: string;
	title: string;
	/** the key on that screen, and what it does, e.g. "m applies" */
	key?: string;
	does?: string;
};

export type ItemDef = {
	id: ItemId;
	title: string;
	/**
	 * Points out of 100. The runbook's weighting: what loses data or takes the
	 * site down weighs most (migration, backups), what only slows it or leaves
	 * the team blind less, the paperwork least. This is the one source: the
	 * readme's checklist table shows the same numbers, and a test holds it to them.
	 */
	weight: number;
	/** `check` exits non-zero unless every required item passes or is signed off */
	required: boolean;
	/** a person may sign it off on the checklist screen */
	manual: boolean;
	action?: Action;
};

export const items: readonly ItemDef[] = [
	{id: 1, title: 'Migration applied', weight: 15, required: true, manual: false, action: {screen: 'migration', title: 'Migration', key: 'm', does: 'applies'}},
	{id: 2, title: 'Query timeout configured', weight: 10, required: true, manual: false},
	{id: 3, title: 'EXPLAIN plans reviewed', weight: 10, required: true, manual: false, action: {screen: 'checklist', title: 'Checklist', key: 'enter', does: 'shows the plans'}},
	{id: 4, title: `Job list under ${appQueries.job_list.targetMs} ms, application list under ${appQueries.application_list.targetMs} ms`, weight: 10, required: true, manual: false, action: {screen: 'checklist', title: 'Checklist', key: 'r', does: 'measures again'}},
	{id: 5, title: 'Backup deployed and tested', weight: 15, required: true, manual: false, action: {screen: 'backups', title: 'Backups', key: 'b', does: 'takes one'}},
	{id: 6, title: 'Restore tested (data verified)', weight: 10, required: true, manual: false, action: {screen: 'backups', title: 'Backups', key: 'r', does: 'restore-tests'}},
	{id: 7, title: 'Monitoring set up', weight: 10, required: true, manual: false},
	{id: 8, title: 'Team trained on operational tasks', weight: 5, required: true, manual: true, action: {screen: 'checklist', title: 'Checklist', key: 's', does: 'signs off'}},
	{id: 9, title: 'Runbooks created for common issues', weight: 5, required: true, manual: true, action: {screen: 'checklist', title: 'Checklist', key: 's', does: 'signs off'}},
	{id: 10, title: 'Load testing completed (100+ concurrent users)', weight: 10, required: true, manual: true, action: {screen: 'checklist', title: 'Checklist', key: 'L', does: 'runs it'}},
];

export function itemDef(id: ItemId): ItemDef {
	return items.find(i => i.id === id)!;
}

export function isItemId(n: number): n is ItemId {
	return items.some(i => i.id === n);
}

/** The runbook's "this week" list: the critical actions and the items each one turns green. */
export const criticalActions: ReadonlyArray<{label: string; items: readonly ItemId[]}> = [
	{label: 'apply the migration', items: [1]},
	{label: 'set the query timeout', items: [2]},
	{label: 'set up monitoring', items: [7]},
	{label: 'take and test a backup', items: [5, 6]},
];

/**
 * "6 Migration screen: m applies" when that screen and key exist in this
 * build; the screen alone when the key is not bound (read-only mode hides
 * dangerous keys); nothing when the screen is not there, so the checklist
 * never points at a key that does nothing.
 */
export function actionText(action: Action | undefined, readOnly: boolean): string | undefined {
	if (!action) return undefined;
	const index = (screenIds as readonly string[]).indexOf(action.screen);
	if (index < 0) return undefined;
	const screen = `${index + 1} ${action.title} screen`;
	// Enter is the console-wide details key; the others are the screen's own
	const bound = action.key !== undefined && commands.some(c => (c.scope === action.screen || c.scope === 'global') && c.keys.includes(action.key!) && !(readOnly && c.dangerous));
	return bound ? `${screen}: ${action.key === 'enter' ? 'Enter' : action.key} ${action.does}` : screen;
}

/** Item 1 names the revision of the plan the console runs with (--migration-plan may name another). */
export function itemTitle(def: ItemDef, options: Pick<ChecklistOptions, 'plan'>): string {
	return def.id === 1 ? `Migration ${options.plan.revision} applied` : def.title;
}

export type ChecklistOptions = {
	/** the migration plan the console runs with: item 1 checks its objects and revision */
	plan: MigrationPlan;
	/** the login role of the FastAPI backend, whose statement_timeout counts */
	appRole: string;
	/** a Seq Scan on a table of at least this many rows fails item 3; below it a scan is cheaper than an index */
	seqScanRows: number;
	/** runs of each timed query for item 4 */
	samples: number;
	statementTimeoutMaxMs: number;
	connectTimeoutMaxMs: number;
	backupMaxAgeMs: number;
	/** a load test counts for item 10 only at this size */
	loadTestMinClients: number;
	loadTestMinDurationMs: number;
	/** the FastAPI backend's checkout, searched for its database configuration */
	backendDir?: string;
	/** a runbook file or folder that must exist for item 9 */
	runbookPath?: string;
};

export const defaultOptions: ChecklistOptions = {
	plan: builtinPlan,
	appRole,
	seqScanRows: 50_000,
	samples: 50,
	statementTimeoutMaxMs: 30_000,
	connectTimeoutMaxMs: 10_000,
	backupMaxAgeMs: 26 * 3_600_000,
	loadTestMinClients: 100,
	loadTestMinDurationMs: 30_000,
};

export type ItemResult = {
	id: ItemId;
	title: string;
	verdict: Verdict;
	required: boolean;
	weight: number;
	/** what the verdict rests on, one fact a line */
	evidence: string[];
	/** the exact SQL or code that fixes a failing item */
	fix?: string[];
	/** when the evidence was read (ISO) */
	checkedAt?: string;
	/** the console key that acts on it, e.g. "6 Migration screen: m applies" */
	action?: string;
};
